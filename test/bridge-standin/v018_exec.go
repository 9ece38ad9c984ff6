//go:build memoh_v018

package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "memohstandin/pb/bridgepb"
)

const (
	execChunkSize      = 4096
	execDefaultTimeout = 30 * time.Second
	ptyDefaultTimeout  = 300 * time.Second
	ptyDefaultCols     = 80
	ptyDefaultRows     = 24
)

// Exec: the first message is the configuration (and, in pipe mode, the first stdin); later messages carry
// stdin (and, in PTY mode, resizes).
func (s *server) Exec(stream pb.ContainerService_ExecServer) error {
	cfg, err := stream.Recv()
	if err != nil {
		return status.Error(codes.InvalidArgument, "failed to receive exec config")
	}
	if cfg.GetCommand() == "" {
		return status.Error(codes.InvalidArgument, "command is required")
	}
	workDir := cfg.GetWorkDir()
	switch {
	case s.br.on("exec-workdir-ignored") || workDir == "":
		workDir = dataDir
	case !filepath.IsAbs(workDir) && !s.br.on("exec-workdir-cwd"):
		workDir = filepath.Join(dataDir, workDir)
	}
	env := s.execEnv(cfg)

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

// execEnv: clean_env starts from nothing (not even PATH or HOME); otherwise the bridge's own environment
// minus unset_env (names, or PREFIX* wildcards); env is appended last (the last duplicate wins).
func (s *server) execEnv(cfg *pb.ExecInput) []string {
	var env []string
	if !cfg.GetCleanEnv() || s.br.on("no-clean-env") {
		for _, kv := range os.Environ() {
			name := kv
			if i := strings.IndexByte(kv, '='); i >= 0 {
				name = kv[:i]
			}
			if !s.br.on("no-unset-env") && unsetMatches(cfg.GetUnsetEnv(), name, !s.br.on("unset-env-no-wildcard")) {
				continue
			}
			env = append(env, kv)
		}
	}
	if !s.br.on("exec-env-ignored") {
		env = append(env, cfg.GetEnv()...)
	}
	if env == nil {
		env = []string{} // nil would make os/exec inherit the bridge's environment
	}
	return env
}

func unsetMatches(patterns []string, name string, wildcard bool) bool {
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if wildcard && strings.HasSuffix(p, "*") {
			if strings.HasPrefix(name, strings.TrimSuffix(p, "*")) {
				return true
			}
		} else if p == name {
			return true
		}
	}
	return false
}

// exitCodeV018: the exit status; 128+signal for a signal death; -1 when Wait failed for another reason.
func (s *server) exitCodeV018(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			if ws.Exited() {
				return ws.ExitStatus()
			}
			if ws.Signaled() {
				if s.br.on("exit-minus-one") {
					return -1
				}
				return 128 + int(ws.Signal())
			}
		}
	}
	return -1
}

func (s *server) execPipe(stream pb.ContainerService_ExecServer, cfg *pb.ExecInput, workDir string, env []string,
	send func(*pb.ExecOutput), exitMsg func(int)) error {
	timeout := time.Duration(cfg.GetTimeoutSeconds()) * time.Second
	switch {
	case cfg.GetTimeoutSeconds() == 0, cfg.GetTimeoutSeconds() < 0 && s.br.on("exec-negative-timeout-30s"):
		timeout = execDefaultTimeout
	case cfg.GetTimeoutSeconds() < 0:
		timeout = 0 // none
	}
	if s.br.on("exec-no-timeout") {
		timeout = 0
	}

	cmd := exec.Command("/bin/sh", "-c", cfg.GetCommand())
	cmd.Dir = workDir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, so a kill reaches its children
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return status.Errorf(codes.Internal, "stdin pipe: %v", err)
	}
	// Our own pipes, so that the read ends can be closed on timeout even while a child still holds the
	// write ends (the stream must not hang on a background process).
	outR, outW, err := os.Pipe()
	if err != nil {
		return status.Errorf(codes.Internal, "stdout pipe: %v", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return status.Errorf(codes.Internal, "stderr pipe: %v", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return status.Errorf(codes.Internal, "start: %v", err)
	}
	defer outR.Close()
	defer errR.Close()

	var killOnce sync.Once
	var timedOut atomic.Bool
	kill := func(closePipes bool) {
		killOnce.Do(func() {
			if s.br.on("exec-kill-shell-only") {
				_ = cmd.Process.Kill()
				return
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			if closePipes {
				outR.Close()
				errR.Close()
			}
		})
	}
	done := make(chan struct{})
	defer close(done)
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() { timedOut.Store(true); kill(true) })
		defer t.Stop()
	} else {
		// No timeout: a client that goes away kills the command. With a timeout it runs until the timeout.
		go func() {
			select {
			case <-stream.Context().Done():
				kill(true)
			case <-done:
			}
		}()
	}

	go func() {
		defer stdin.Close()
		if len(cfg.GetStdinData()) > 0 && !s.br.on("exec-first-stdin-ignored") && !s.br.on("exec-stdin-ignored") {
			if _, err := stdin.Write(cfg.GetStdinData()); err != nil {
				return
			}
		}
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
	go pumpV018(&wg, outR, pb.ExecOutput_STDOUT, send)
	go pumpV018(&wg, errR, errKind, send)
	wg.Wait()

	werr := cmd.Wait()
	code := s.exitCodeV018(werr)
	// Measured on the live bridge: a shell that had already exited while a background child kept its
	// output open ends with -1 when the timeout finally cuts the stream.
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); timedOut.Load() && ok && !ws.Signaled() {
		code = -1
	}
	exitMsg(code)
	return nil
}

func pumpV018(wg *sync.WaitGroup, r io.Reader, kind pb.ExecOutput_Stream, send func(*pb.ExecOutput)) {
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

// bareCommand: no whitespace or shell metacharacters, and either absolute or without any slash. Such a
// command is exec'd directly in PTY mode; anything else goes through /bin/sh -c.
func bareCommand(c string) bool {
	if strings.ContainsAny(c, " \t\r\n|&;<>()$`\\\"'*?[]#~=%{}!") {
		return false
	}
	return filepath.IsAbs(c) || !strings.Contains(c, "/")
}

func (s *server) execPTY(stream pb.ContainerService_ExecServer, cfg *pb.ExecInput, workDir string, env []string,
	send func(*pb.ExecOutput), exitMsg func(int)) error {
	cols, rows := uint16(ptyDefaultCols), uint16(ptyDefaultRows)
	if r := cfg.GetResize(); r != nil && r.GetCols() > 0 && r.GetRows() > 0 && !s.br.on("pty-no-resize") {
		cols, rows = uint16(r.GetCols()), uint16(r.GetRows())
	}
	master, slave, err := openPTY()
	if err != nil {
		return status.Errorf(codes.Internal, "pty start: %v", err)
	}
	defer master.Close()
	_ = setPTYSize(master, cols, rows)

	if !s.br.on("pty-no-term") {
		env = append(env, "TERM=xterm-256color")
	}
	var cmd *exec.Cmd
	if bareCommand(cfg.GetCommand()) && !s.br.on("pty-sh-c") {
		cmd = exec.Command(cfg.GetCommand())
	} else {
		cmd = exec.Command("/bin/sh", "-c", cfg.GetCommand())
	}
	cmd.Dir = workDir
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		return status.Errorf(codes.Internal, "pty start: %v", err)
	}

	timeout := ptyDefaultTimeout
	if cfg.GetTimeoutSeconds() > 0 {
		timeout = time.Duration(cfg.GetTimeoutSeconds()) * time.Second
	}
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	done := make(chan struct{})
	defer close(done)
	go func() {
		var expire <-chan time.Time
		if !s.br.on("pty-no-timeout") {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expire = t.C
		}
		select {
		case <-stream.Context().Done():
			killGroup()
		case <-expire:
			killGroup()
		case <-done:
		}
	}()

	// First-message stdin is still ignored in PTY mode.
	go func() {
		for {
			in, err := stream.Recv()
			if err != nil {
				if err == io.EOF && s.br.on("pty-half-close-kills") {
					killGroup()
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
	exitMsg(s.exitCodeV018(cmd.Wait()))
	return nil
}
