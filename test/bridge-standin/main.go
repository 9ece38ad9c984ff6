//go:build !memoh_v018

// Command bridge is a STAND-IN for Memoh's workspace bridge (cmd/bridge at d5b410d7e3). It is not Memoh's
// code: it was written from the behavioural contract (shared/bridge-contract.md) so that the smoke suite
// can be tested without Memoh's real binary. See README.md.
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
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	_ "memohstandin/pb/mcpcontainer"
	_ "memohstandin/pb/v3/bridgepb" // registers internal/workspace/bridgepb/bridge.proto for reflection
)

const (
	defaultSocketPath = "/run/memoh/bridge.sock"
	dataDir           = "/data"
	templateDir       = "/opt/memoh/templates"
	toolkitBin        = "/opt/memoh/toolkit/bin"
)

// era is the Memoh era this binary plays (build.sh also sets it with -X main.era).
var era = "v3"

// eraBreaks: the break names the v3 binary knows.
func eraBreaks() map[string]string { return knownBreaks }

func main() {
	breaks, src := loadBreaks()
	crash := newCrashCounter()
	if len(breaks) > 0 {
		slog.Warn("stand-in bridge: deliberate breaks active", "breaks", breaks.names(), "source", src)
	} else {
		slog.Info("stand-in bridge: no breaks active")
	}
	if crash.limit >= 0 {
		slog.Warn("stand-in bridge: STANDIN_CRASH_AFTER active", "rpcs", crash.limit)
	}

	// 1. Signals.
	var ctx context.Context
	var stop context.CancelFunc
	if breaks.on("sigterm-hang") {
		signal.Ignore(syscall.SIGTERM)
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt)
	} else {
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	}
	defer stop()

	// 2. Data dir + template seeding.
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		slog.Warn("cannot create data dir; skipping template seeding", "path", dataDir, "error", err)
	} else if !breaks.on("no-template-seed") {
		seedTemplates()
	}

	// 3. PATH.
	if !breaks.on("no-path-append") {
		os.Setenv("PATH", os.Getenv("PATH")+":"+toolkitBin)
	}

	// 4. Zombie reaping (the bridge is PID 1). Deliberately races with each Exec's own wait, like the
	// seed-era bridge (contract §5 item 41).
	if !breaks.on("no-reaper") {
		go reapZombies()
	}

	// 5. Stale socket.
	sock := os.Getenv("BRIDGE_SOCKET_PATH")
	if sock == "" {
		sock = defaultSocketPath
	}
	_ = os.Remove(sock)

	if breaks.on("no-listen") {
		noListen(ctx, sock)
	}

	// 6. Listen.
	lis, err := net.Listen("unix", sock)
	if err != nil {
		slog.Error("failed to listen", "path", sock, "error", err)
		os.Exit(0)
	}

	// 7. gRPC server with grpc-go defaults, ContainerService and reflection. No health service.
	srv := grpc.NewServer()
	impl := &server{br: breaks, crash: crash}
	var served []string
	if !breaks.on("wire-none") {
		if !breaks.on("wire-bridgepb-only") {
			srv.RegisterService(containerServiceDesc("mcpcontainer.ContainerService", "internal/mcp/mcpcontainer/mcpcontainer.proto"), impl)
			served = append(served, "mcpcontainer.ContainerService")
		}
		srv.RegisterService(containerServiceDesc("bridgepb.ContainerService", "internal/workspace/bridgepb/bridge.proto"), impl)
		served = append(served, "bridgepb.ContainerService")
	}
	if !breaks.on("no-reflection") {
		reflection.Register(srv)
	}

	// 8. Graceful shutdown on SIGTERM/SIGINT: waits for in-flight RPCs; closing the listener unlinks the socket.
	stopped := make(chan struct{})
	go func() {
		<-ctx.Done()
		slog.Info("shutting down bridge")
		srv.GracefulStop()
		close(stopped)
	}()

	slog.Info("bridge listening", "socket", sock, "services", served)
	if err := srv.Serve(lis); err != nil {
		slog.Error("gRPC server stopped", "error", err)
		return
	}
	<-stopped
	slog.Info("bridge stopped")
}

// seedTemplates copies each top-level regular file of templateDir to dataDir, only when nothing by that
// name exists there yet. A missing template dir is silently fine; unreadable templates are skipped.
func seedTemplates() {
	entries, err := os.ReadDir(templateDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			slog.Warn("cannot read templates", "path", templateDir, "error", err)
		}
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		dst := filepath.Join(dataDir, e.Name())
		if _, err := os.Lstat(dst); err == nil || !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(templateDir, e.Name()))
		if err != nil {
			continue
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			slog.Warn("cannot seed template", "path", dst, "error", err)
			continue
		}
		slog.Info("seeded template", "path", dst)
	}
}

// reapZombies waits for any child forever; with no children it sleeps 1 s and tries again.
func reapZombies() {
	for {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil {
			time.Sleep(time.Second)
		}
	}
}

// noListen implements the "no-listen" break: never listen, stay up a while, then exit 1.
func noListen(ctx context.Context, sock string) {
	secs := 30
	if v, err := strconv.Atoi(os.Getenv("STANDIN_NO_LISTEN_SECONDS")); err == nil && v >= 0 {
		secs = v
	}
	slog.Error("STANDIN_BREAK=no-listen: deliberately NOT listening", "path", sock, "exit_in_seconds", secs)
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(secs) * time.Second):
	}
	os.Exit(1)
}
