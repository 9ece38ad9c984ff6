//go:build !memoh_v018

package main

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	pb "memohstandin/pb/mcpcontainer"
)

// containerServiceDesc builds the ContainerService descriptor under a given wire name. The seed-era bridge
// answers on "mcpcontainer.ContainerService"; later bridges on "bridgepb.ContainerService". Both descriptors
// carry the same messages with the same field numbers (contract, wire-name warning), so one implementation
// (written against the mcpcontainer Go types) serves both: only the service name and the reflection file differ.
// The file name must be registered in the protobuf registry (both pb packages are imported by main.go).
func containerServiceDesc(serviceName, protoFile string) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: serviceName,
		HandlerType: (*pb.ContainerServiceServer)(nil),
		Methods: []grpc.MethodDesc{
			unary(serviceName, "ReadFile", (*server).ReadFile),
			unary(serviceName, "WriteFile", (*server).WriteFile),
			unary(serviceName, "ListDir", (*server).ListDir),
			unary(serviceName, "Stat", (*server).Stat),
			unary(serviceName, "Mkdir", (*server).Mkdir),
			unary(serviceName, "Rename", (*server).Rename),
			unary(serviceName, "DeleteFile", (*server).DeleteFile),
		},
		Streams: []grpc.StreamDesc{
			{
				StreamName: "Exec", ServerStreams: true, ClientStreams: true,
				Handler: func(srv interface{}, st grpc.ServerStream) error {
					s := srv.(*server)
					s.crash.tick(serviceName + "/Exec")
					return s.Exec(&execStream{st})
				},
			},
			{
				StreamName: "ReadRaw", ServerStreams: true,
				Handler: func(srv interface{}, st grpc.ServerStream) error {
					s := srv.(*server)
					s.crash.tick(serviceName + "/ReadRaw")
					in := new(pb.ReadRawRequest)
					if err := st.RecvMsg(in); err != nil {
						return err
					}
					return s.ReadRaw(in, &readRawStream{st})
				},
			},
			{
				StreamName: "WriteRaw", ClientStreams: true,
				Handler: func(srv interface{}, st grpc.ServerStream) error {
					s := srv.(*server)
					s.crash.tick(serviceName + "/WriteRaw")
					return s.WriteRaw(&writeRawStream{st})
				},
			},
		},
		Metadata: protoFile,
	}
}

// unary adapts a typed method to grpc.MethodDesc, the way protoc-gen-go-grpc's handlers do.
func unary[Req any, PReq interface {
	*Req
	proto.Message
}, Resp proto.Message](serviceName, method string, call func(*server, context.Context, PReq) (Resp, error)) grpc.MethodDesc {
	full := "/" + serviceName + "/" + method
	return grpc.MethodDesc{
		MethodName: method,
		Handler: func(srv interface{}, ctx context.Context, dec func(interface{}) error, ic grpc.UnaryServerInterceptor) (interface{}, error) {
			s := srv.(*server)
			s.crash.tick(full)
			in := PReq(new(Req))
			if err := dec(in); err != nil {
				return nil, err
			}
			if ic == nil {
				return call(s, ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full},
				func(ctx context.Context, req interface{}) (interface{}, error) { return call(s, ctx, req.(PReq)) })
		},
	}
}

type execStream struct{ grpc.ServerStream }

func (x *execStream) Send(m *pb.ExecOutput) error { return x.ServerStream.SendMsg(m) }
func (x *execStream) Recv() (*pb.ExecInput, error) {
	m := new(pb.ExecInput)
	if err := x.ServerStream.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

type readRawStream struct{ grpc.ServerStream }

func (x *readRawStream) Send(m *pb.DataChunk) error { return x.ServerStream.SendMsg(m) }

type writeRawStream struct{ grpc.ServerStream }

func (x *writeRawStream) SendAndClose(m *pb.WriteRawResponse) error { return x.ServerStream.SendMsg(m) }
func (x *writeRawStream) Recv() (*pb.WriteRawChunk, error) {
	m := new(pb.WriteRawChunk)
	if err := x.ServerStream.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

var (
	_ pb.ContainerService_ExecServer     = (*execStream)(nil)
	_ pb.ContainerService_ReadRawServer  = (*readRawStream)(nil)
	_ pb.ContainerService_WriteRawServer = (*writeRawStream)(nil)
	_ pb.ContainerServiceServer          = (*server)(nil)
)
