//go:build memoh_v018

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "memohstandin/pb/bridgepb"
)

const (
	tunnelDialTimeout = 10 * time.Second
	tunnelReadSize    = 32 * 1024
)

// Tunnel: the first frame must be open{address}; the target must resolve only to loopback addresses.
// Once connected the bridge sends one empty data frame (the ack), then the target's bytes in 32 KiB reads,
// and close{error} when the target ends.
func (s *server) Tunnel(stream pb.ContainerService_TunnelServer) error {
	first, err := stream.Recv()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "receive tunnel open: %v", err)
	}
	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "first tunnel frame must be open")
	}
	host, port, err := net.SplitHostPort(open.GetAddress())
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid tunnel address: %v", err)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		if err == nil {
			err = errors.New("no addresses")
		}
		return status.Errorf(codes.InvalidArgument, "resolve tunnel host: %v", err)
	}
	if !s.br.on("tunnel-any-host") {
		for _, ip := range ips {
			if !ip.IP.IsLoopback() {
				return status.Errorf(codes.PermissionDenied, "tunnel target %s resolves to non-loopback address %s", open.GetAddress(), ip.IP)
			}
		}
	}
	dctx, dcancel := context.WithTimeout(ctx, tunnelDialTimeout)
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", net.JoinHostPort(ips[0].IP.String(), port))
	dcancel()
	if err != nil {
		return status.Errorf(codes.Unavailable, "dial tunnel target: %v", err)
	}
	defer conn.Close()

	var mu sync.Mutex
	finished := false
	send := func(f *pb.TunnelFrame) error {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return io.EOF
		}
		return stream.Send(f)
	}
	// Runs before conn.Close (deferred above): once the call is ending, the target reader, woken by that
	// close, must not slip a close frame in ahead of the call's status.
	defer func() {
		mu.Lock()
		finished = true
		mu.Unlock()
	}()
	if !s.br.on("tunnel-no-ack") {
		if err := send(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Data{Data: &pb.TunnelData{}}}); err != nil {
			return err
		}
	}

	// Client → target. A client error or a client close{error} ends the call; a plain close or a
	// half-close only shuts the target's write side.
	clientErr := make(chan error, 1)
	go func() {
		for {
			f, err := stream.Recv()
			if err == io.EOF {
				closeWrite(conn)
				return
			}
			if err != nil {
				clientErr <- err
				return
			}
			switch {
			case f.GetOpen() != nil:
				clientErr <- status.Error(codes.InvalidArgument, "tunnel already open")
				return
			case f.GetClose() != nil:
				if msg := f.GetClose().GetError(); msg != "" {
					clientErr <- status.Error(codes.Canceled, msg)
					return
				}
				closeWrite(conn)
			case f.GetData() != nil:
				if _, err := conn.Write(f.GetData().GetData()); err != nil {
					clientErr <- status.Errorf(codes.Unavailable, "write tunnel target: %v", err)
					return
				}
			}
		}
	}()

	// Target → client.
	targetDone := make(chan error, 1)
	go func() {
		buf := make([]byte, tunnelReadSize)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if serr := send(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Data{Data: &pb.TunnelData{Data: append([]byte(nil), buf[:n]...)}}}); serr != nil {
					targetDone <- serr
					return
				}
			}
			if err != nil {
				msg := ""
				if !errors.Is(err, io.EOF) {
					msg = err.Error()
				}
				if !s.br.on("tunnel-no-close") {
					_ = send(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Close{Close: &pb.TunnelClose{Error: msg}}})
				}
				targetDone <- nil
				return
			}
		}
	}()

	select {
	case err := <-clientErr:
		return err
	case err := <-targetDone:
		return err
	}
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
