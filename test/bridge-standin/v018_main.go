//go:build memoh_v018

// Command bridge, built with -tags memoh_v018, is a STAND-IN for Memoh's workspace bridge at v0.18.0
// (cmd/bridge at tag v0.18.0). It is not Memoh's code: it was written from shared/memoh-current.md (§1, §2
// listen/transport, §5) on top of the v3 contract it leaves unchanged. See README.md.
package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	pb "memohstandin/pb/bridgepb"
)

// era is the Memoh era this binary plays (build.sh also sets it with -X main.era).
var era = "v0.18"

const (
	defaultSocketPath     = "/run/memoh/bridge.sock"
	dataDir               = "/data"
	templateDir           = "/opt/memoh/templates"
	toolkitBin            = "/opt/memoh/toolkit/bin"
	maxMsgSize            = 16 << 20
	defaultToolsProxyAddr = "127.0.0.1:18732"
)

// glog writes a line shaped like the real bridge's: it never initialises its logger, so its messages go
// through Go's default slog handler as `INFO global log message="…" key=value…`.
func glog(level slog.Level, msg string, args ...any) {
	slog.Log(context.Background(), level, "global log", append([]any{"message", msg}, args...)...)
}

func main() {
	breaks, src := loadBreaks()
	crash := newCrashCounter()
	if len(breaks) > 0 {
		slog.Warn("stand-in bridge: deliberate breaks active", "era", era, "breaks", breaks.names(), "source", src)
	} else {
		slog.Info("stand-in bridge: no breaks active", "era", era)
	}
	if crash.limit >= 0 {
		slog.Warn("stand-in bridge: STANDIN_CRASH_AFTER active", "rpcs", crash.limit)
	}

	var ctx context.Context
	var stop context.CancelFunc
	if breaks.on("sigterm-hang") {
		signal.Ignore(syscall.SIGTERM)
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt)
	} else {
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	}
	defer stop()

	// v0.17 moved /data creation and template seeding to the server (over RPC); the break restores the seed.
	if breaks.on("data-mkdir") {
		if err := os.MkdirAll(dataDir, 0o750); err == nil {
			seedTemplatesV018()
		}
	}
	if !breaks.on("no-path-append") {
		os.Setenv("PATH", os.Getenv("PATH")+":"+toolkitBin)
	}
	// No reaper: tini is PID 1 from v0.18 on (run this binary without tini and orphans stay zombies).

	hub := newReverseHub()
	if !breaks.on("reverse-http-off") {
		startToolsProxy(hub, breaks)
	}

	listenFailed := func() {
		if breaks.on("listen-fail-exit0") {
			os.Exit(0)
		}
		os.Exit(1)
	}
	var lis net.Listener
	var creds credentials.TransportCredentials
	network, address := "unix", ""
	if tcp := os.Getenv("BRIDGE_TCP_ADDR"); tcp != "" {
		network, address = "tcp", tcp
		if err := checkTCPAddr(tcp, breaks); err != nil {
			glog(slog.LevelError, "invalid BRIDGE_TCP_ADDR", "address", tcp, "error", err)
			os.Exit(1)
		}
		tlsCfg, err := loadBridgeTLS(breaks)
		if err != nil {
			glog(slog.LevelError, "invalid bridge TLS configuration", "error", err)
			os.Exit(1)
		}
		if tlsCfg != nil {
			creds = credentials.NewTLS(tlsCfg)
		}
		if breaks.on("no-listen") {
			noListen(ctx, tcp)
		}
		if lis, err = net.Listen("tcp", tcp); err != nil {
			glog(slog.LevelError, "failed to listen", "network", network, "address", tcp, "error", err)
			listenFailed()
		}
	} else {
		address = os.Getenv("BRIDGE_SOCKET_PATH")
		if address == "" {
			address = defaultSocketPath
		}
		_ = os.Remove(address) // stale socket; the parent dir is not created
		if breaks.on("no-listen") {
			noListen(ctx, address)
		}
		var err error
		if lis, err = net.Listen("unix", address); err != nil {
			glog(slog.LevelError, "failed to listen", "network", network, "address", address, "error", err)
			listenFailed()
		}
	}

	opts := []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     5 * time.Minute,
			MaxConnectionAge:      30 * time.Minute,
			MaxConnectionAgeGrace: 10 * time.Second,
			Time:                  60 * time.Second,
			Timeout:               15 * time.Second,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.UnaryInterceptor(func(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (interface{}, error) {
			crashTick(crash, info.FullMethod)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv interface{}, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			crashTick(crash, info.FullMethod)
			return h(srv, ss)
		}),
	}
	if !breaks.on("msg-4mib") {
		opts = append(opts, grpc.MaxRecvMsgSize(maxMsgSize), grpc.MaxSendMsgSize(maxMsgSize))
	}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	impl := &server{br: breaks, hub: hub}
	if !breaks.on("wire-none") {
		pb.RegisterContainerServiceServer(srv, impl)
	}
	var reflV1 func()
	if !breaks.on("no-reflection") {
		reflection.Register(srv)
		if !breaks.on("reflection-v1alpha-only") {
			reflV1 = registerReflectionV1(srv, impl, breaks)
		}
	}

	stopped := make(chan struct{})
	go func() {
		<-ctx.Done()
		glog(slog.LevelInfo, "shutting down bridge gRPC server")
		if breaks.on("sigterm-graceful") {
			srv.GracefulStop()
		} else {
			srv.Stop() // cuts in-flight streams at once
		}
		if reflV1 != nil {
			reflV1()
		}
		close(stopped)
	}()

	glog(slog.LevelInfo, "bridge gRPC server listening", "network", network, "address", address)
	if err := srv.Serve(lis); err != nil {
		glog(slog.LevelError, "bridge gRPC server failed", "error", err)
		os.Exit(1)
	}
	<-stopped
	os.Exit(0)
}

// crashTick counts ContainerService RPCs only (reflection does not count) for STANDIN_CRASH_AFTER.
func crashTick(c *crashCounter, method string) {
	if strings.Contains(method, ".ContainerService/") {
		c.tick(method)
	}
}

// checkTCPAddr: the real bridge accepts only a loopback host or an empty one (":port").
func checkTCPAddr(addr string, breaks breakSet) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return errors.New("bad port " + strconv.Quote(port))
	}
	if host == "" || breaks.on("tcp-any-addr") || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("BRIDGE_TCP_ADDR must be a loopback address or :port, got host " + strconv.Quote(host))
}

func seedTemplatesV018() {
	entries, err := os.ReadDir(templateDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			slog.Warn("cannot read templates", "path", templateDir, "error", err)
		}
		return
	}
	for _, e := range entries {
		dst := filepath.Join(dataDir, e.Name())
		if !e.Type().IsRegular() {
			continue
		}
		if _, err := os.Lstat(dst); err == nil || !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(templateDir, e.Name())); err == nil {
			_ = os.WriteFile(dst, data, 0o644)
		}
	}
}

// noListen implements the "no-listen" break: never listen, stay up a while, then exit 1.
func noListen(ctx context.Context, where string) {
	secs := 30
	if v, err := strconv.Atoi(os.Getenv("STANDIN_NO_LISTEN_SECONDS")); err == nil && v >= 0 {
		secs = v
	}
	slog.Error("STANDIN_BREAK=no-listen: deliberately NOT listening", "address", where, "exit_in_seconds", secs)
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(secs) * time.Second):
	}
	os.Exit(1)
}
