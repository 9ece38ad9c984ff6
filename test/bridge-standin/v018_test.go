//go:build memoh_v018

// Tests of the v0.18 stand-in against shared/memoh-current.md §5: the test binary re-runs itself as the
// bridge (a real process on a real Unix socket or loopback TCP port) and talks to it with the generated
// client. Run (GOPATH mode, nothing fetched):  test/bridge-standin/test.sh
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	pb "memohstandin/pb/bridgepb"
)

func TestMain(m *testing.M) {
	if os.Getenv("STANDIN_TEST_RUN_BRIDGE") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type bridge struct {
	t      *testing.T
	dir    string
	sock   string
	cmd    *exec.Cmd
	log    *syncBuf
	done   chan struct{}
	conn   *grpc.ClientConn
	client pb.ContainerServiceClient
}

// startBridge runs the bridge on a socket in a fresh temp dir (tools proxy on a free loopback port unless
// env says otherwise). env entries override.
func startBridge(t *testing.T, env ...string) *bridge {
	t.Helper()
	dir := t.TempDir()
	b := &bridge{t: t, dir: dir, sock: filepath.Join(dir, "bridge.sock"), log: &syncBuf{}, done: make(chan struct{})}
	b.cmd = exec.Command(os.Args[0], "-test.run=^$")
	b.cmd.Env = append(os.Environ(), "STANDIN_TEST_RUN_BRIDGE=1", "BRIDGE_SOCKET_PATH="+b.sock,
		"MEMOH_ACP_TOOLS_PROXY_ADDR=127.0.0.1:0", "STANDIN_BREAK=", "BRIDGE_TCP_ADDR=")
	b.cmd.Env = append(b.cmd.Env, env...)
	b.cmd.Stderr = b.log
	b.cmd.Stdout = b.log
	b.cmd.Dir = dir
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		if b.conn != nil {
			b.conn.Close()
		}
		_ = b.cmd.Process.Kill()
		<-b.done
	})
	return b
}

// listening waits (bounded, about 5 s) for the "listening" log line; false if the bridge exits or never says it.
func (b *bridge) listening() bool {
	re := regexp.MustCompile(`message="bridge gRPC server listening" network=(\w+) address=(\S+)`)
	for i := 0; i < 200; i++ {
		if re.MatchString(b.log.String()) {
			return true
		}
		select {
		case <-b.done:
			return false
		case <-time.After(25 * time.Millisecond):
		}
	}
	return false
}

func (b *bridge) waitListening() *bridge {
	b.t.Helper()
	if !b.listening() {
		b.t.Fatalf("bridge never listened: %s", b.log.String())
	}
	return b
}

// exited reports whether the bridge exits within d, and its exit code.
func (b *bridge) exited(d time.Duration) (bool, int) {
	select {
	case <-b.done:
		return true, b.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return false, 0
	}
}

func (b *bridge) dialUnix() pb.ContainerServiceClient {
	b.t.Helper()
	b.waitListening()
	conn, err := grpc.Dial("passthrough:///bridge", grpc.WithInsecure(), grpc.WithContextDialer(
		func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", b.sock)
		}), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		b.t.Fatal(err)
	}
	b.conn, b.client = conn, pb.NewContainerServiceClient(conn)
	return b.client
}

func (b *bridge) exitCode(within time.Duration) int {
	b.t.Helper()
	select {
	case <-b.done:
		return b.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		b.t.Fatalf("bridge did not exit; log: %s", b.log.String())
		return -99
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), msg) {
		t.Fatalf("want %v containing %q, got %v", code, msg, err)
	}
}

type execResult struct {
	stdout, stderr string
	exit           int32
	exits          int
}

func runExec(t *testing.T, c pb.ContainerServiceClient, in *pb.ExecInput, more ...*pb.ExecInput) execResult {
	t.Helper()
	st, err := c.Exec(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(in); err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	_ = st.CloseSend()
	var r execResult
	for {
		o, err := st.Recv()
		if err == io.EOF {
			return r
		}
		if err != nil {
			t.Fatalf("exec %q: %v", in.GetCommand(), err)
		}
		switch o.GetStream() {
		case pb.ExecOutput_STDOUT:
			r.stdout += string(o.GetData())
		case pb.ExecOutput_STDERR:
			r.stderr += string(o.GetData())
		case pb.ExecOutput_EXIT:
			r.exit, r.exits = o.GetExitCode(), r.exits+1
		}
	}
}

func TestReflectionShowsV018Surface(t *testing.T) {
	b := startBridge(t)
	b.dialUnix()
	for _, svc := range []string{"grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"} {
		st, err := b.conn.NewStream(ctx(t), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/"+svc+"/ServerReflectionInfo")
		if err != nil {
			t.Fatal(err)
		}
		ask := func(req *rpb.ServerReflectionRequest) *rpb.ServerReflectionResponse {
			if err := st.SendMsg(req); err != nil {
				t.Fatal(err)
			}
			resp := new(rpb.ServerReflectionResponse)
			if err := st.RecvMsg(resp); err != nil {
				t.Fatalf("%s: %v", svc, err)
			}
			return resp
		}
		var names []string
		for _, s := range ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}).GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		sort.Strings(names)
		if want := "bridgepb.ContainerService grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection"; strings.Join(names, " ") != want {
			t.Fatalf("%s lists %v", svc, names)
		}
		fdr := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "bridgepb.ContainerService"}})
		fd := new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(fdr.GetFileDescriptorResponse().GetFileDescriptorProto()[0], fd); err != nil {
			t.Fatal(err)
		}
		if fd.GetName() != "internal/workspace/bridgepb/bridge.proto" || len(fd.GetService()[0].GetMethod()) != 14 {
			t.Fatalf("%s: file %s with %d methods", svc, fd.GetName(), len(fd.GetService()[0].GetMethod()))
		}
		fields := map[string]int32{}
		for _, m := range fd.GetMessageType() {
			for _, f := range m.GetField() {
				fields[m.GetName()+"."+f.GetName()] = f.GetNumber()
			}
		}
		for k, n := range map[string]int32{"ExecInput.clean_env": 8, "ExecInput.unset_env": 9, "ListDirRequest.max_entries": 6,
			"ListDirResponse.truncated": 3, "WriteRawChunk.abort": 3, "FileEntry.summary": 6} {
			if fields[k] != n {
				t.Fatalf("%s: %s = %d, want %d", svc, k, fields[k], n)
			}
		}
		_ = st.CloseSend()
	}
	if _, err := b.conn.NewStream(ctx(t), &grpc.StreamDesc{}, "/mcpcontainer.ContainerService/Stat"); err == nil {
		st, _ := b.conn.NewStream(ctx(t), &grpc.StreamDesc{ServerStreams: true}, "/mcpcontainer.ContainerService/Stat")
		_ = st.SendMsg(&pb.StatRequest{Path: "/"})
		_ = st.CloseSend()
		wantCode(t, st.RecvMsg(new(pb.StatResponse)), codes.Unimplemented, "")
	}
	if !regexp.MustCompile(`INFO ACP tools proxy listening addr=127\.0\.0\.1:\d+`).MatchString(b.log.String()) {
		t.Fatalf("log: %s", b.log.String())
	}
}

func TestFiles(t *testing.T) {
	b := startBridge(t)
	c := b.dialUnix()
	d := b.dir
	x := ctx(t)

	// ReadFile: raw lines, 2000-line default, long line ends output but is counted.
	var sb strings.Builder
	for i := 1; i <= 2500; i++ {
		fmt.Fprintf(&sb, "line %d\r\n", i)
	}
	os.WriteFile(d+"/big.txt", []byte(sb.String()), 0o644)
	r, err := c.ReadFile(x, &pb.ReadFileRequest{Path: d + "/big.txt"})
	if err != nil || r.GetTotalLines() != 2500 || !strings.HasPrefix(r.GetContent(), "line 1\nline 2\n") || strings.Count(r.GetContent(), "\n") != 2000 {
		t.Fatalf("ReadFile: %v total=%d lines=%d", err, r.GetTotalLines(), strings.Count(r.GetContent(), "\n"))
	}
	os.WriteFile(d+"/long.txt", []byte("a\nb\n"+strings.Repeat("x", 1<<20)+"\nc\n"), 0o644)
	r, err = c.ReadFile(x, &pb.ReadFileRequest{Path: d + "/long.txt"})
	if err != nil || r.GetContent() != "a\nb\n" || r.GetTotalLines() != 3 {
		t.Fatalf("long line: %v %q %d", err, r.GetContent(), r.GetTotalLines())
	}
	os.WriteFile(d+"/just.txt", []byte(strings.Repeat("y", 1<<20-1)+"\nz\n"), 0o644)
	if r, err = c.ReadFile(x, &pb.ReadFileRequest{Path: d + "/just.txt"}); err != nil || r.GetTotalLines() != 2 {
		t.Fatalf("1 MiB-1 line: %v %d", err, r.GetTotalLines())
	}

	// WriteFile: atomic, always 0600, replaces a symlink instead of following it.
	os.WriteFile(d+"/old.txt", []byte("old"), 0o644)
	os.WriteFile(d+"/linktarget", []byte("keep"), 0o644)
	os.Symlink(d+"/linktarget", d+"/link")
	for _, p := range []string{"old.txt", "link", "new/deep/f.txt"} {
		if _, err := c.WriteFile(x, &pb.WriteFileRequest{Path: d + "/" + p, Content: []byte("new")}); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(d + "/" + p)
		if fi.Mode() != 0o600 {
			t.Fatalf("%s mode %v", p, fi.Mode())
		}
	}
	if got, _ := os.ReadFile(d + "/linktarget"); string(got) != "keep" {
		t.Fatalf("symlink followed")
	}
	if _, err := c.WriteFile(x, &pb.WriteFileRequest{Path: d + "/five", Content: make([]byte, 5<<20)}); err != nil {
		t.Fatalf("5 MiB WriteFile: %v", err)
	}
	_, err = c.WriteFile(x, &pb.WriteFileRequest{Path: d + "/seventeen", Content: make([]byte, 17<<20)})
	wantCode(t, err, codes.ResourceExhausted, "")

	// WriteRaw: zero messages, abort, temp+rename 0600.
	ws, _ := c.WriteRaw(x)
	_, err = ws.CloseAndRecv()
	wantCode(t, err, codes.InvalidArgument, "first chunk must include path")
	ws, _ = c.WriteRaw(x)
	ws.Send(&pb.WriteRawChunk{Path: d + "/old.txt"})
	ws.Send(&pb.WriteRawChunk{Data: []byte("partial")})
	ws.Send(&pb.WriteRawChunk{Abort: true})
	_, err = ws.CloseAndRecv()
	wantCode(t, err, codes.Aborted, "write aborted by sender")
	if got, _ := os.ReadFile(d + "/old.txt"); string(got) != "new" {
		t.Fatalf("abort touched target: %q", got)
	}
	if m, _ := filepath.Glob(d + "/.old.txt.tmp-*"); len(m) != 0 {
		t.Fatalf("temp left: %v", m)
	}
	os.Chmod(d+"/old.txt", 0o644)
	ws, _ = c.WriteRaw(x)
	ws.Send(&pb.WriteRawChunk{Path: d + "/old.txt"})
	ws.Send(&pb.WriteRawChunk{Data: []byte("raw!")})
	if resp, err := ws.CloseAndRecv(); err != nil || resp.GetBytesWritten() != 4 {
		t.Fatalf("WriteRaw: %v %v", resp, err)
	}
	if fi, _ := os.Stat(d + "/old.txt"); fi.Mode() != 0o600 {
		t.Fatalf("WriteRaw mode %v", fi.Mode())
	}

	// Rename of a missing source.
	_, err = c.Rename(x, &pb.RenameRequest{OldPath: d + "/nope", NewPath: d + "/x/y"})
	wantCode(t, err, codes.NotFound, "rename: ")

	// ListDir.
	ld := d + "/ld"
	for _, p := range []string{"a/x", "a/y", "a/z/q", "a-b", "c"} {
		os.MkdirAll(filepath.Dir(ld+"/"+p), 0o755)
		os.WriteFile(ld+"/"+p, nil, 0o644)
	}
	paths := func(es []*pb.FileEntry) string {
		var out []string
		for _, e := range es {
			out = append(out, e.GetPath()+e.GetSummary())
		}
		return strings.Join(out, ",")
	}
	lr, err := c.ListDir(x, &pb.ListDirRequest{Path: ld, Recursive: true})
	if err != nil || paths(lr.GetEntries()) != "a,a-b,a/x,a/y,a/z,a/z/q,c" || lr.GetTotalCount() != 7 || lr.GetTruncated() {
		t.Fatalf("recursive: %v %s %d", err, paths(lr.GetEntries()), lr.GetTotalCount())
	}
	lr, _ = c.ListDir(x, &pb.ListDirRequest{Path: ld, Recursive: true, Offset: 2, Limit: 3})
	if paths(lr.GetEntries()) != "a/x,a/y,a/z" || lr.GetTotalCount() != 7 || !lr.GetTruncated() {
		t.Fatalf("paged: %s %d %v", paths(lr.GetEntries()), lr.GetTotalCount(), lr.GetTruncated())
	}
	lr, _ = c.ListDir(x, &pb.ListDirRequest{Path: ld, Recursive: true, CollapseThreshold: 3})
	if paths(lr.GetEntries()) != "a,a-b,a/4 items (not expanded),c" || lr.GetTotalCount() != 4 {
		t.Fatalf("collapsed: %s", paths(lr.GetEntries()))
	}
	_, err = c.ListDir(x, &pb.ListDirRequest{Path: ld, Recursive: true, MaxEntries: 6})
	wantCode(t, err, codes.ResourceExhausted, "recursive listing exceeds 6 entries")
	_, err = c.ListDir(x, &pb.ListDirRequest{Path: ld, MaxEntries: 2})
	wantCode(t, err, codes.ResourceExhausted, "directory listing exceeds 2 entries")
	lr, err = c.ListDir(x, &pb.ListDirRequest{Path: ld, Limit: 500})
	if err != nil || paths(lr.GetEntries()) != "a,a-b,c" || lr.GetTotalCount() != 3 {
		t.Fatalf("flat: %v %s", err, paths(lr.GetEntries()))
	}
	_, err = c.ListDir(x, &pb.ListDirRequest{Path: d + "/missing", Recursive: true})
	wantCode(t, err, codes.NotFound, "walk: ")
	_, err = c.ListDir(x, &pb.ListDirRequest{Path: ld + "/c", Recursive: true})
	wantCode(t, err, codes.NotFound, "walk: ")
}

func TestNoFollow(t *testing.T) {
	b := startBridge(t)
	c := b.dialUnix()
	d, x := b.dir, ctx(t)
	os.MkdirAll(d+"/r/sub", 0o755)
	os.WriteFile(d+"/r/sub/f", []byte("hello"), 0o644)
	os.Symlink(d+"/r/sub", d+"/r/ln")
	read := func(root, rel string) (string, error) {
		st, err := c.ReadRawNoFollow(x, &pb.ReadRawNoFollowRequest{Root: root, RelativePath: rel})
		if err != nil {
			return "", err
		}
		var out []byte
		for {
			ch, err := st.Recv()
			if err == io.EOF {
				return string(out), nil
			}
			if err != nil {
				return "", err
			}
			out = append(out, ch.GetData()...)
		}
	}
	if got, err := read(d+"/r", "sub/f"); err != nil || got != "hello" {
		t.Fatalf("read: %q %v", got, err)
	}
	_, err := read(d+"/r", "ln/f")
	wantCode(t, err, codes.FailedPrecondition, "unsafe or unsupported path")
	_, err = read(d+"/r/ln", "f")
	wantCode(t, err, codes.FailedPrecondition, "unsafe or unsupported path")
	_, err = read(d+"/r", "sub")
	wantCode(t, err, codes.FailedPrecondition, "unsafe or unsupported path")
	_, err = read(d+"/r", "sub/missing")
	wantCode(t, err, codes.NotFound, "")
	for _, rel := range []string{"../r/sub/f", "sub/../sub/f", "/etc/passwd", ""} {
		_, err = read(d+"/r", rel)
		wantCode(t, err, codes.InvalidArgument, "invalid anchored read path")
	}

	write := func(chunks ...*pb.WriteRawNoFollowChunk) (*pb.WriteRawResponse, error) {
		st, err := c.WriteRawNoFollow(x)
		if err != nil {
			return nil, err
		}
		for _, ch := range chunks {
			if err := st.Send(ch); err != nil {
				break
			}
		}
		return st.CloseAndRecv()
	}
	resp, err := write(&pb.WriteRawNoFollowChunk{Root: d + "/r", RelativePath: "n1/n2/new"}, &pb.WriteRawNoFollowChunk{Data: []byte("abc")})
	if err != nil || resp.GetBytesWritten() != 3 {
		t.Fatalf("write: %v %v", resp, err)
	}
	if fi, _ := os.Stat(d + "/r/n1/n2/new"); fi.Mode() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(d + "/r/n1"); fi.Mode().Perm() != 0o750 {
		t.Fatalf("parent mode %v", fi.Mode())
	}
	_, err = write(&pb.WriteRawNoFollowChunk{Root: d + "/r", RelativePath: "n1/n2/new", Data: []byte("x")})
	wantCode(t, err, codes.AlreadyExists, "create anchored file: target already exists")
	_, err = write(&pb.WriteRawNoFollowChunk{Root: d + "/r", RelativePath: "ln/g", Data: []byte("x")})
	wantCode(t, err, codes.FailedPrecondition, "")
	_, err = write(&pb.WriteRawNoFollowChunk{Root: d + "/nope", RelativePath: "g"})
	wantCode(t, err, codes.NotFound, "create anchored file: open nofollow root:")
	_, err = write()
	wantCode(t, err, codes.InvalidArgument, "")
	_, err = write(&pb.WriteRawNoFollowChunk{Root: d + "/r", RelativePath: "p1"}, &pb.WriteRawNoFollowChunk{Data: []byte("part")},
		&pb.WriteRawNoFollowChunk{Abort: true})
	wantCode(t, err, codes.Aborted, "anchored write aborted by sender")
	if got, _ := os.ReadFile(d + "/r/p1"); string(got) != "part" {
		t.Fatalf("partial file: %q", got)
	}
	_, err = write(&pb.WriteRawNoFollowChunk{Root: d + "/r", RelativePath: "p2", Abort: true})
	wantCode(t, err, codes.Aborted, "")
	if _, err := os.Stat(d + "/r/p2"); err == nil {
		t.Fatal("abort in the first chunk created the file")
	}
	_, err = write(&pb.WriteRawNoFollowChunk{Root: d + "/r", RelativePath: "p3"}, &pb.WriteRawNoFollowChunk{RelativePath: "p4"})
	wantCode(t, err, codes.InvalidArgument, "")
}

func TestExec(t *testing.T) {
	b := startBridge(t, "MEMOH_STANDIN_T1=1", "MEMOH_STANDIN_T2=2", "KEEPME=3")
	c := b.dialUnix()
	d := b.dir
	if r := runExec(t, c, &pb.ExecInput{Command: "env | sort", WorkDir: d, CleanEnv: true, Env: []string{"ONLY=1"}}); r.stdout != "ONLY=1\n" && !strings.HasPrefix(r.stdout, "ONLY=1\nPWD=") {
		t.Fatalf("clean_env: %q", r.stdout)
	}
	r := runExec(t, c, &pb.ExecInput{Command: "env", WorkDir: d, UnsetEnv: []string{"MEMOH_STANDIN_*", "KEEPME"}, Env: []string{"MEMOH_STANDIN_T3=3"}})
	if strings.Contains(r.stdout, "MEMOH_STANDIN_T1") || strings.Contains(r.stdout, "KEEPME") || !strings.Contains(r.stdout, "MEMOH_STANDIN_T3=3") || !strings.Contains(r.stdout, "PATH=") {
		t.Fatalf("unset_env: %q", r.stdout)
	}
	if r := runExec(t, c, &pb.ExecInput{Command: "cat", WorkDir: d, StdinData: []byte("A")}, &pb.ExecInput{StdinData: []byte("B")}); r.stdout != "AB" || r.exit != 0 || r.exits != 1 {
		t.Fatalf("stdin: %+v", r)
	}
	if r := runExec(t, c, &pb.ExecInput{Command: "exit 3", WorkDir: d}); r.exit != 3 {
		t.Fatalf("exit 3: %+v", r)
	}
	if r := runExec(t, c, &pb.ExecInput{Command: "kill -9 $$", WorkDir: d}); r.exit != 137 {
		t.Fatalf("kill -9: %+v", r)
	}
	if r := runExec(t, c, &pb.ExecInput{Command: "sleep 30; echo late", WorkDir: d, TimeoutSeconds: 1}); r.exit != 137 || r.stdout != "" {
		t.Fatalf("timeout: %+v", r)
	}
	// A background child keeps stdout open after the shell exits: the timeout closes the pipes and kills
	// the whole group; the EXIT is -1 (measured on the live bridge).
	if r := runExec(t, c, &pb.ExecInput{Command: "(sleep 30; echo child) & echo parent", WorkDir: d, TimeoutSeconds: 1}); r.exit != -1 || r.stdout != "parent\n" {
		t.Fatalf("background child: %+v", r)
	}
	os.MkdirAll(d+"/wd", 0o755)
	if r := runExec(t, c, &pb.ExecInput{Command: "pwd", WorkDir: d + "/wd"}); r.stdout != d+"/wd\n" {
		t.Fatalf("work_dir: %+v", r)
	}
	// A relative work_dir is joined onto /data (which this host may not have: then the start fails).
	st, _ := c.Exec(ctx(t))
	st.Send(&pb.ExecInput{Command: "pwd", WorkDir: "rel-sub"})
	st.CloseSend()
	o, err := st.Recv()
	if _, serr := os.Stat("/data/rel-sub"); serr == nil {
		if err != nil || string(o.GetData()) != "/data/rel-sub\n" {
			t.Fatalf("relative work_dir: %v %v", o, err)
		}
	} else {
		wantCode(t, err, codes.Internal, "start: ") // chdir into the missing /data/rel-sub fails
	}
	// PTY: TERM, 80x24, a bare command exec'd directly (its parent is the bridge, not a shell).
	r = runExec(t, c, &pb.ExecInput{Command: "/bin/sh -c 'echo $TERM; stty size'", WorkDir: d, Pty: true})
	if r.stdout != "xterm-256color\r\n24 80\r\n" || r.exit != 0 {
		t.Fatalf("pty: %+v", r)
	}
	if r := runExec(t, c, &pb.ExecInput{Command: "tty", WorkDir: d, Pty: true}); !strings.HasPrefix(r.stdout, "/dev/pts/") || r.exit != 0 {
		t.Fatalf("bare pty command: %+v", r)
	}
	if r := runExec(t, c, &pb.ExecInput{Command: "sleep 30", WorkDir: d, Pty: true, TimeoutSeconds: 1}); r.exit != 137 {
		t.Fatalf("pty timeout: %+v", r)
	}
}

func TestTunnelAndReverseHTTP(t *testing.T) {
	b := startBridge(t)
	c := b.dialUnix()
	x := ctx(t)
	echo, _ := net.Listen("tcp", "127.0.0.1:0")
	defer echo.Close()
	go func() {
		conn, err := echo.Accept()
		if err == nil {
			io.Copy(conn, conn)
			conn.Close()
		}
	}()
	tn, _ := c.Tunnel(x)
	tn.Send(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Open{Open: &pb.TunnelOpen{Address: echo.Addr().String()}}})
	ack, err := tn.Recv()
	if err != nil || ack.GetData() == nil || len(ack.GetData().GetData()) != 0 {
		t.Fatalf("ack: %v %v", ack, err)
	}
	tn.Send(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Data{Data: &pb.TunnelData{Data: []byte("ping")}}})
	got := ""
	for got != "ping" {
		f, err := tn.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got += string(f.GetData().GetData())
	}
	tn.CloseSend()
	f, err := tn.Recv()
	if err != nil || f.GetClose() == nil || f.GetClose().GetError() != "" {
		t.Fatalf("close frame: %v %v", f, err)
	}
	if _, err := tn.Recv(); err != io.EOF {
		t.Fatalf("after close: %v", err)
	}
	tunnelErr := func(first *pb.TunnelFrame) error {
		tn, _ := c.Tunnel(x)
		tn.Send(first)
		_, err := tn.Recv()
		return err
	}
	wantCode(t, tunnelErr(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Open{Open: &pb.TunnelOpen{Address: "10.1.2.3:80"}}}), codes.PermissionDenied, "")
	wantCode(t, tunnelErr(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Open{Open: &pb.TunnelOpen{Address: "0.0.0.0:80"}}}), codes.PermissionDenied, "")
	wantCode(t, tunnelErr(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Data{Data: &pb.TunnelData{}}}), codes.InvalidArgument, "")
	// After the ack: a second open → INVALID_ARGUMENT; a close with an error → CANCELED(msg).
	hold, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hold.Close()
	held := make(chan net.Conn, 2) // kept open until the test ends, so the target never ends the tunnel
	go func() {
		for i := 0; i < 2; i++ {
			if conn, err := hold.Accept(); err == nil {
				held <- conn
			}
		}
	}()
	defer func() {
		for len(held) > 0 {
			(<-held).Close()
		}
	}()
	for _, second := range []*pb.TunnelFrame{
		{Frame: &pb.TunnelFrame_Open{Open: &pb.TunnelOpen{Address: hold.Addr().String()}}},
		{Frame: &pb.TunnelFrame_Close{Close: &pb.TunnelClose{Error: "client gave up"}}},
	} {
		tn, _ := c.Tunnel(x)
		tn.Send(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Open{Open: &pb.TunnelOpen{Address: hold.Addr().String()}}})
		if f, err := tn.Recv(); err != nil || f.GetData() == nil {
			t.Fatalf("ack: %v %v", f, err)
		}
		tn.Send(second)
		_, err := tn.Recv()
		if second.GetOpen() != nil {
			wantCode(t, err, codes.InvalidArgument, "")
		} else {
			wantCode(t, err, codes.Canceled, "client gave up")
		}
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := closed.Addr().String()
	closed.Close()
	wantCode(t, tunnelErr(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Open{Open: &pb.TunnelOpen{Address: addr}}}), codes.Unavailable, "dial tunnel target")

	// ReverseHTTP through the tools proxy.
	m := regexp.MustCompile(`ACP tools proxy listening addr=(\S+)`).FindStringSubmatch(b.log.String())
	if m == nil {
		t.Fatalf("no proxy line: %s", b.log.String())
	}
	proxy := "http://" + m[1]
	if resp, err := http.Get(proxy + "/mcp"); err != nil || resp.StatusCode != 503 {
		t.Fatalf("no stream: %v %v", resp, err)
	}
	rh, _ := c.ReverseHTTP(metadata.AppendToOutgoingContext(x, "x-memoh-reverse-http-route", ""))
	type res struct {
		code int
		body string
		hdr  http.Header
	}
	frames := make(chan *pb.ReverseHTTPFrame, 4)
	go func() {
		for {
			f, err := rh.Recv()
			if err != nil {
				close(frames)
				return
			}
			frames <- f
		}
	}()
	out := make(chan res, 1)
	post := func() {
		hr, _ := http.NewRequest("POST", proxy+"/mcp?x=1", strings.NewReader("body"))
		hr.Header.Set("Connection", "keep-alive, X-Hop")
		hr.Header.Set("X-Hop", "drop me")
		hr.Header.Set("X-Keep", "keep me")
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			out <- res{code: -1, body: err.Error()}
			return
		}
		bb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- res{resp.StatusCode, string(bb), resp.Header}
	}
	// The stream counts once the bridge has seen it: until then the proxy still answers 503 (bounded retry).
	var req *pb.ReverseHTTPRequest
	for i := 0; i < 200 && req == nil; i++ {
		go post()
		select {
		case f := <-frames:
			req = f.GetRequest()
		case r := <-out:
			if r.code != 503 {
				t.Fatalf("proxy: %+v", r)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if req == nil || !regexp.MustCompile(`^reverse-http-\d+$`).MatchString(req.GetId()) || req.GetMethod() != "POST" ||
		req.GetUrl() != "/mcp?x=1" || string(req.GetBody()) != "body" {
		t.Fatalf("request: %v", req)
	}
	names := map[string]bool{}
	for _, h := range req.GetHeaders() {
		names[strings.ToLower(h.GetName())] = true
	}
	if names["connection"] || names["x-hop"] || names["content-length"] || !names["x-keep"] {
		t.Fatalf("headers: %v", names)
	}
	rh.Send(&pb.ReverseHTTPFrame{Frame: &pb.ReverseHTTPFrame_Response{Response: &pb.ReverseHTTPResponse{
		Id: req.GetId(), StatusCode: 201, Body: []byte("answer"), Headers: []*pb.HTTPHeader{{Name: "X-Answer", Values: []string{"yes"}}}}}})
	if r := <-out; r.code != 201 || r.body != "answer" || r.hdr.Get("X-Answer") != "yes" {
		t.Fatalf("response: %+v", r)
	}
	// A ReverseHTTPError is a 502; a status outside 100–999 becomes 200.
	for _, answer := range []*pb.ReverseHTTPFrame{
		{Frame: &pb.ReverseHTTPFrame_Error{Error: &pb.ReverseHTTPError{Error: "tool failed"}}},
		{Frame: &pb.ReverseHTTPFrame_Response{Response: &pb.ReverseHTTPResponse{StatusCode: 0, Body: []byte("zero")}}},
	} {
		go post()
		f := <-frames
		id := f.GetRequest().GetId()
		if e := answer.GetError(); e != nil {
			e.Id = id
		} else {
			answer.GetResponse().Id = id
		}
		rh.Send(answer)
		r := <-out
		if answer.GetError() != nil && (r.code != 502 || !strings.Contains(r.body, "tool failed")) ||
			answer.GetResponse() != nil && (r.code != 200 || r.body != "zero") {
			t.Fatalf("answer %v → %+v", answer, r)
		}
	}
	// A newer stream on the same route takes the new requests; the older one stays open and can still
	// answer what it already holds.
	go post()
	kept := (<-frames).GetRequest()
	rh2, _ := c.ReverseHTTP(x)
	frames2 := make(chan *pb.ReverseHTTPFrame, 4)
	go func() {
		for {
			f, err := rh2.Recv()
			if err != nil {
				return
			}
			frames2 <- f
		}
	}()
	rh.Send(&pb.ReverseHTTPFrame{Frame: &pb.ReverseHTTPFrame_Response{Response: &pb.ReverseHTTPResponse{Id: kept.GetId(), StatusCode: 200, Body: []byte("old")}}})
	if r := <-out; r.code != 200 || r.body != "old" {
		t.Fatalf("old stream's answer: %+v", r)
	}
	moved := false
	for i := 0; i < 200 && !moved; i++ {
		go post()
		select {
		case f := <-frames: // not yet switched: answer from the old stream and try again
			rh.Send(&pb.ReverseHTTPFrame{Frame: &pb.ReverseHTTPFrame_Response{Response: &pb.ReverseHTTPResponse{Id: f.GetRequest().GetId(), StatusCode: 200}}})
			<-out
			time.Sleep(10 * time.Millisecond)
		case f := <-frames2:
			rh2.Send(&pb.ReverseHTTPFrame{Frame: &pb.ReverseHTTPFrame_Response{Response: &pb.ReverseHTTPResponse{Id: f.GetRequest().GetId(), StatusCode: 202}}})
			if r := <-out; r.code != 202 {
				t.Fatalf("new stream's answer: %+v", r)
			}
			moved = true
		}
	}
	if !moved {
		t.Fatal("requests never moved to the newer stream")
	}
}

// Start-up and transport: TCP address rules, plaintext TCP, strict mTLS, SIGTERM cutting an Exec.
func TestTransport(t *testing.T) {
	if code := startBridge(t, "BRIDGE_TCP_ADDR=0.0.0.0:1455").exitCode(10 * time.Second); code != 1 {
		t.Fatalf("0.0.0.0: exit %d", code)
	}
	if code := startBridge(t, "BRIDGE_SOCKET_PATH=/nonexistent-dir/bridge.sock").exitCode(10 * time.Second); code != 1 {
		t.Fatalf("listen failure: exit %d", code)
	}
	if code := startBridge(t, "BRIDGE_TCP_ADDR=127.0.0.1:0", "BRIDGE_TLS_MODE=bogus").exitCode(10 * time.Second); code != 1 {
		t.Fatalf("bad TLS mode: exit %d", code)
	}
	if code := startBridge(t, "BRIDGE_TCP_ADDR=127.0.0.1:0", "BRIDGE_TLS_MODE=strict").exitCode(10 * time.Second); code != 1 {
		t.Fatalf("strict without files: exit %d", code)
	}

	port := freePort(t)
	b := startBridge(t, "BRIDGE_TCP_ADDR=:"+port).waitListening()
	if _, err := os.Stat(b.sock); err == nil {
		t.Fatal("TCP mode created a socket")
	}
	conn, err := grpc.Dial("127.0.0.1:"+port, grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := pb.NewContainerServiceClient(conn).Stat(ctx(t), &pb.StatRequest{Path: "/"}); err != nil {
		t.Fatalf("plaintext TCP: %v", err)
	}

	// Strict mTLS.
	dir := t.TempDir()
	ca, caKey := newCA(t, "server-client-ca")
	writePEM(t, dir+"/server-client-ca.crt", "CERTIFICATE", ca.Raw)
	srvCA, srvCAKey := newCA(t, "bridge-server-ca")
	srvCert, srvKey := leaf(t, srvCA, srvCAKey, x509.ExtKeyUsageServerAuth, "spiffe://memoh/instance/i1/bridge", "memoh-bridge.i1.bridge.memoh.internal")
	writePEM(t, dir+"/bridge-server.crt", "CERTIFICATE", srvCert.Raw)
	kb, _ := x509.MarshalECPrivateKey(srvKey)
	writePEM(t, dir+"/bridge-server.key", "EC PRIVATE KEY", kb)
	port = freePort(t)
	startBridge(t, "BRIDGE_TCP_ADDR=127.0.0.1:"+port, "BRIDGE_TLS_MODE=strict", "BRIDGE_TLS_CERT_FILE="+dir+"/bridge-server.crt",
		"BRIDGE_TLS_KEY_FILE="+dir+"/bridge-server.key", "BRIDGE_TLS_CLIENT_CA_FILE="+dir+"/server-client-ca.crt",
		"BRIDGE_TLS_EXPECTED_CLIENT_URI=spiffe://memoh/instance/i1/server").waitListening()
	roots := x509.NewCertPool()
	roots.AddCert(srvCA)
	try := func(certs []tls.Certificate) error {
		cfg := &tls.Config{RootCAs: roots, ServerName: "memoh-bridge.i1.bridge.memoh.internal", Certificates: certs}
		conn, err := grpc.Dial("127.0.0.1:"+port, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			return err
		}
		defer conn.Close()
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = pb.NewContainerServiceClient(conn).Stat(c, &pb.StatRequest{Path: "/"})
		return err
	}
	mk := func(eku x509.ExtKeyUsage, uri string) []tls.Certificate {
		c, k := leaf(t, ca, caKey, eku, uri, "")
		return []tls.Certificate{{Certificate: [][]byte{c.Raw}, PrivateKey: k}}
	}
	if err := try(mk(x509.ExtKeyUsageClientAuth, "spiffe://memoh/instance/i1/server")); err != nil {
		t.Fatalf("good client cert refused: %v", err)
	}
	for name, certs := range map[string][]tls.Certificate{
		"no cert":   nil,
		"wrong URI": mk(x509.ExtKeyUsageClientAuth, "spiffe://memoh/instance/other/server"),
		"no EKU":    mk(-1, "spiffe://memoh/instance/i1/server"),
	} {
		if err := try(certs); err == nil {
			t.Fatalf("%s accepted", name)
		}
	}

	// SIGTERM cuts an Exec in flight and exits 0.
	b = startBridge(t)
	c := b.dialUnix()
	st, _ := c.Exec(ctx(t))
	st.Send(&pb.ExecInput{Command: "echo started; sleep 8", WorkDir: b.dir})
	if o, err := st.Recv(); err != nil || string(o.GetData()) != "started\n" {
		t.Fatalf("exec: %v %v", o, err)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if code := b.exitCode(10 * time.Second); code != 0 {
		t.Fatalf("SIGTERM exit %d", code)
	}
	if _, err := st.Recv(); err == nil || status.Code(err) == codes.OK {
		t.Fatalf("stream not cut: %v", err)
	}
	if _, err := os.Stat(b.sock); err == nil {
		t.Fatal("socket left behind")
	}
}

// Breaks: a standin-break file in the socket dir (the v0.18 place) switches a behaviour off.
func TestBreakFileInSocketDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/standin-break", []byte("rename-internal, exit-minus-one, no-clean-env\n"), 0o644)
	b := startBridge(t, "BRIDGE_SOCKET_PATH="+dir+"/bridge.sock")
	b.sock = dir + "/bridge.sock"
	c := b.dialUnix()
	_, err := c.Rename(ctx(t), &pb.RenameRequest{OldPath: dir + "/nope", NewPath: dir + "/x"})
	wantCode(t, err, codes.Internal, "rename: ")
	if r := runExec(t, c, &pb.ExecInput{Command: "kill -9 $$", WorkDir: dir}); r.exit != -1 {
		t.Fatalf("exit-minus-one: %+v", r)
	}
	if r := runExec(t, c, &pb.ExecInput{Command: "echo $BRIDGE_SOCKET_PATH", WorkDir: dir, CleanEnv: true}); r.stdout == "\n" {
		t.Fatalf("no-clean-env: %+v", r)
	}
	if !strings.Contains(b.log.String(), "source="+`"file `+dir+"/standin-break") && !strings.Contains(b.log.String(), "source=\"file "+dir) {
		t.Fatalf("log: %s", b.log.String())
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func newCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

// leaf issues a leaf; eku -1 means no EKU extension at all.
func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, eku x509.ExtKeyUsage, uri, dns string) (*x509.Certificate, *ecdsa.PrivateKey) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse(uri)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), URIs: []*url.URL{u},
		KeyUsage: x509.KeyUsageDigitalSignature}
	if eku >= 0 {
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{eku}
	}
	if dns != "" {
		tpl.DNSNames = []string{dns}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// STANDIN_CRASH_AFTER=N: N ContainerService RPCs answered (reflection does not count), then exit 2.
func TestCrashAfter(t *testing.T) {
	b := startBridge(t, "STANDIN_CRASH_AFTER=1")
	c := b.dialUnix()
	if !reflectionWorks(b, "grpc.reflection.v1alpha.ServerReflection") {
		t.Fatal("reflection")
	}
	if _, err := c.Stat(ctx(t), &pb.StatRequest{Path: "/"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Stat(ctx(t), &pb.StatRequest{Path: "/"})
	wantCode(t, err, codes.Unavailable, "")
	if code := b.exitCode(10 * time.Second); code != 2 {
		t.Fatalf("exit %d", code)
	}
}
