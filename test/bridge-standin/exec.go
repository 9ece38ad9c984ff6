//go:build !memoh_v018

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "memohstandin/pb/mcpcontainer"
)

const (
	execChunkSize      = 4096
	execDefaultTimeout = 30 * time.Second
	ptyDefaultCols     = 80
	ptyDefaultRows     = 24
)

// Exec: the first message is the configuration; later messages carry stdin (and, in PTY mode, resizes).
func (s *server) Exec(stream pb.ContainerService_ExecServer) error {
	cfg, err := stream.Recv()
	if err != nil {
		return status.Error(codes.InvalidArgument, "failed to receive exec config")
	}
	if cfg.GetCommand() == "" {
		return status.Error(codes.InvalidArgument, "command is required")
	}
	workDir := cfg.GetWorkDir() // not resolved like file paths
	if workDir == "" || s.br.on("exec-workdir-ignored") {
		workDir = dataDir
	}
	env := os.Environ() // already carries the toolkit PATH
	if !s.br.on("exec-env-ignored") {
		env = append(env, cfg.GetEnv()...) // exec.Cmd keeps the last of duplicate keys
	}

	// Sends are serialised (the reference sends from two goroutines unlocked); send errors are ignored.
	var mu sync.Mutex
	send := func(m *pb.ExecOutput) {
		mu.Lock()
		defer mu.Unlock()
		_ = stream.Send(m)
	}
	exitMsg := func(code int) {
		if s.br.on("exec-exit-code") {
			code = 0
		}
		if !s.br.on("exec-no-exit-msg") {
			send(&pb.ExecOutput{Stream: pb.ExecOutput_EXIT, ExitCode: int32(code)})
		}
	}

	if cfg.GetPty() {
		return s.execPTY(stream, cfg, workDir, env, send, exitMsg)
	}
	return s.execPipe(stream, cfg, workDir, env, send, exitMsg)
}

func (s *server) execPipe(stream pb.ContainerService_ExecServer, cfg *pb.ExecInput, workDir string, env []string,
	send func(*pb.ExecOutput), exitMsg func(int)) error {
	// The shell is killed on timeout, on RPC cancellation and on client disconnect.
	timeout := time.Duration(cfg.GetTimeoutSeconds()) * time.Second
	if cfg.GetTimeoutSeconds() <= 0 {
		timeout = execDefaultTimeout
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if s.br.on("exec-no-timeout") {
		ctx, cancel = context.WithCancel(stream.Context())
	} else {
		ctx, cancel = context.WithTimeout(stream.Context(), timeout)
	}
	defer cancel()

	// CommandContext sends SIGKILL to /bin/sh only; its children keep running (and keep the pipes open).
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", cfg.GetCommand())
	cmd.Dir = workDir
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return status.Errorf(codes.Internal, "stdin pipe: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return status.Errorf(codes.Internal, "stdout pipe: %v", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return status.Errorf(codes.Internal, "stderr pipe: %v", err)
	}
	// Only pipe Execs at once (the race check's load) trigger the stuck copy; it holds the pipes of those in flight.
	if inFlight := pipeExecs.Add(1); inFlight >= 8 && s.br.on("exec-fork-stuck") {
		stuckCopy.Do(func() {
			if pid, errno := forkStuckCopy(); errno != 0 {
				slog.Warn("exec-fork-stuck: fork failed", "errno", errno)
			} else {
				slog.Warn("exec-fork-stuck: a copy of the bridge that never reaches exec", "pid", pid)
			}
		})
	}
	defer pipeExecs.Add(-1)
	if err := cmd.Start(); err != nil {
		return status.Errorf(codes.Internal, "start: %v", err)
	}

	// Stdin: later messages' stdin_data, in order; EOF only when the client half-closes (or the stream dies).
	// Writes block when the process does not read (back-pressure); writes after exit are dropped.
	go func() {
		defer stdin.Close()
		for {
			in, err := stream.Recv()
			if err != nil {
				return
			}
			if len(in.GetStdinData()) > 0 && !s.br.on("exec-stdin-ignored") {
				_, _ = stdin.Write(in.GetStdinData())
			}
		}
	}()

	errKind := pb.ExecOutput_STDERR
	if s.br.on("exec-stderr-as-stdout") {
		errKind = pb.ExecOutput_STDOUT
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go pump(&wg, stdout, pb.ExecOutput_STDOUT, send)
	go pump(&wg, stderr, errKind, send)
	wg.Wait() // EXIT only after both outputs reach EOF

	exitMsg(exitCode(cmd.Wait()))
	return nil
}

func pump(wg *sync.WaitGroup, r io.Reader, kind pb.ExecOutput_Stream, send func(*pb.ExecOutput)) {
	defer wg.Done()
	buf := make([]byte, execChunkSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			send(&pb.ExecOutput{Stream: kind, Data: append([]byte(nil), buf[:n]...)})
		}
		if err != nil {
			return
		}
	}
}

// exitCode: the shell's exit status; -1 when it died by a signal or the wait failed for another reason
// (including the PID-1 reaper having reaped it first, contract §5 item 41).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Exited() {
			return ws.ExitStatus()
		}
		return -1
	}
	return -1
}

func (s *server) execPTY(stream pb.ContainerService_ExecServer, cfg *pb.ExecInput, workDir string, env []string,
	send func(*pb.ExecOutput), exitMsg func(int)) error {
	cols, rows := uint16(ptyDefaultCols), uint16(ptyDefaultRows)
	if r := cfg.GetResize(); r != nil && r.GetCols() > 0 && r.GetRows() > 0 && !s.br.on("pty-no-resize") {
		cols, rows = uint16(r.GetCols()), uint16(r.GetRows()) // truncated to 16 bits
	}
	master, slave, err := openPTY()
	if err != nil {
		return status.Errorf(codes.Internal, "pty start: %v", err)
	}
	defer master.Close()
	_ = setPTYSize(master, cols, rows)

	if !s.br.on("pty-no-term") {
		env = append(env, "TERM=xterm-256color") // always last: overrides any TERM in env
	}
	// No timeout in PTY mode; cancelling the RPC kills the shell.
	cmd := exec.CommandContext(stream.Context(), "/bin/sh", "-c", cfg.GetCommand())
	cmd.Dir = workDir
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	slave.Close() // only the child (and its descendants) hold the terminal now
	if err != nil {
		return status.Errorf(codes.Internal, "pty start: %v", err)
	}

	// Input: resize (applied first) then stdin_data. Half-close sends nothing and stops nothing.
	go func() {
		for {
			in, err := stream.Recv()
			if err != nil {
				if err == io.EOF && s.br.on("pty-half-close-kills") {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
				return
			}
			if r := in.GetResize(); r != nil && r.GetCols() > 0 && r.GetRows() > 0 && !s.br.on("pty-no-resize") {
				_ = setPTYSize(master, uint16(r.GetCols()), uint16(r.GetRows()))
			}
			if len(in.GetStdinData()) > 0 && !s.br.on("exec-stdin-ignored") {
				_, _ = master.Write(in.GetStdinData())
			}
		}
	}()

	// Output (stdout and stderr merged) until every holder of the terminal has closed it (read gives EIO).
	buf := make([]byte, execChunkSize)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			send(&pb.ExecOutput{Stream: pb.ExecOutput_STDOUT, Data: append([]byte(nil), buf[:n]...)})
		}
		if err != nil {
			break
		}
	}
	exitMsg(exitCode(cmd.Wait()))
	return nil
}
