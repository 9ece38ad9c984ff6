//go:build memoh_v018

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	pb "memohstandin/pb/bridgepb"
)

// The real v0.18 bridge serves reflection as grpc.reflection.v1 and v1alpha. Debian's grpc-go (1.33) has
// only v1alpha, whose messages are wire-identical to v1's, and its reflection server is unexported. So the
// v1 name is served by relaying each stream, message by message, to a v1alpha reflection server on a private
// twin gRPC server (same services, same descriptors) reachable only through an abstract Unix socket.

const reflV1Name = "grpc.reflection.v1.ServerReflection"

type reflV1Relay struct {
	rpb.UnimplementedServerReflectionServer
	client rpb.ServerReflectionClient
}

func reflV1Desc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: reflV1Name,
		HandlerType: (*rpb.ServerReflectionServer)(nil),
		Streams: []grpc.StreamDesc{{
			StreamName: "ServerReflectionInfo", ServerStreams: true, ClientStreams: true,
			Handler: func(srv interface{}, st grpc.ServerStream) error {
				if r, ok := srv.(*reflV1Relay); ok && r.client != nil {
					return r.relay(st)
				}
				return fmt.Errorf("reflection v1 relay not connected")
			},
		}},
	}
}

// registerReflectionV1 registers grpc.reflection.v1.ServerReflection on srv; the returned func stops the twin.
func registerReflectionV1(srv *grpc.Server, impl pb.ContainerServiceServer, breaks breakSet) func() {
	twin := grpc.NewServer()
	if !breaks.on("wire-none") {
		pb.RegisterContainerServiceServer(twin, impl)
	}
	reflection.Register(twin)
	twin.RegisterService(reflV1Desc(), &reflV1Relay{}) // listed, never called: the twin answers as srv would

	name := fmt.Sprintf("@memoh-standin-reflection-%d-%d", os.Getpid(), time.Now().UnixNano()) // pid 1 in every container
	lis, err := net.Listen("unix", name)
	if err != nil {
		glog(slog.LevelWarn, "reflection v1 not served", "error", err)
		return nil
	}
	go func() { _ = twin.Serve(lis) }()
	conn, err := grpc.Dial("passthrough:///"+name, grpc.WithInsecure(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", name)
		}))
	if err != nil {
		twin.Stop()
		return nil
	}
	srv.RegisterService(reflV1Desc(), &reflV1Relay{client: rpb.NewServerReflectionClient(conn)})
	return func() { conn.Close(); twin.Stop() }
}

func (r *reflV1Relay) relay(st grpc.ServerStream) error {
	ctx, cancel := context.WithCancel(st.Context())
	defer cancel()
	up, err := r.client.ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	go func() {
		for {
			req := new(rpb.ServerReflectionRequest)
			if err := st.RecvMsg(req); err != nil {
				_ = up.CloseSend()
				return
			}
			if err := up.Send(req); err != nil {
				return
			}
		}
	}()
	for {
		resp, err := up.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := st.SendMsg(resp); err != nil {
			return err
		}
	}
}
