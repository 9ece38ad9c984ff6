//go:build memoh_v018

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	pb "memohstandin/pb/bridgepb"
)

// A probe starts what it needs and reports whether the v0.18 behaviour it watches is there. Every break
// must make its probe say false, and the unbroken binary must make every probe say true: so each check a
// client builds on that behaviour can be shown to fail.
type probe struct {
	env   func(t *testing.T) []string // extra bridge env (may start helpers)
	check func(t *testing.T, b *bridge) bool
}

// Breaks a host test cannot exercise, with the reason.
var probeExempt = map[string]string{
	"data-mkdir":                "creates /data on the machine it runs on: check it in a container",
	"exec-negative-timeout-30s": "the difference shows only after 30 s",
	"no-path-append":            "covered by the v3 tests; PATH is the same code in both eras",
}

func tryExec(c pb.ContainerServiceClient, within time.Duration, in *pb.ExecInput, more ...*pb.ExecInput) (execResult, error) {
	var r execResult
	x, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	st, err := c.Exec(x)
	if err != nil {
		return r, err
	}
	for _, m := range append([]*pb.ExecInput{in}, more...) {
		if err := st.Send(m); err != nil {
			return r, err
		}
	}
	_ = st.CloseSend()
	for {
		o, err := st.Recv()
		if err == io.EOF {
			return r, nil
		}
		if err != nil {
			return r, err
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

func quick(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func execOK(b *bridge, in *pb.ExecInput, more ...*pb.ExecInput) execResult {
	if in.WorkDir == "" {
		in.WorkDir = b.dir
	}
	r, err := tryExec(b.dialUnix(), 10*time.Second, in, more...)
	if err != nil {
		return execResult{exit: -999, stderr: err.Error()}
	}
	return r
}

func reflectionWorks(b *bridge, svc string) bool {
	b.dialUnix()
	st, err := b.conn.NewStream(quick(b.t), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/"+svc+"/ServerReflectionInfo")
	if err != nil {
		return false
	}
	if st.SendMsg(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}) != nil {
		return false
	}
	return st.RecvMsg(new(rpb.ServerReflectionResponse)) == nil
}

func listPaths(b *bridge, req *pb.ListDirRequest) (string, *pb.ListDirResponse, error) {
	d := b.dir + "/ld"
	for _, p := range []string{"a/x", "a/y", "a/z/q", "a-b", "c"} {
		os.MkdirAll(d+"/"+p[:strings.LastIndexByte(p+"/", '/')], 0o755)
		os.WriteFile(d+"/"+p, nil, 0o644)
	}
	if req.Path == "" {
		req.Path = d
	}
	r, err := b.dialUnix().ListDir(quick(b.t), req)
	var out []string
	for _, e := range r.GetEntries() {
		out = append(out, e.GetPath()+e.GetSummary())
	}
	return strings.Join(out, ","), r, err
}

func readRaw(b *bridge, nofollow bool, root, rel string) (int, string, error) {
	c := b.dialUnix()
	var recv func() (*pb.DataChunk, error)
	if nofollow {
		st, err := c.ReadRawNoFollow(quick(b.t), &pb.ReadRawNoFollowRequest{Root: root, RelativePath: rel})
		if err != nil {
			return 0, "", err
		}
		recv = st.Recv
	} else {
		st, err := c.ReadRaw(quick(b.t), &pb.ReadRawRequest{Path: root + "/" + rel})
		if err != nil {
			return 0, "", err
		}
		recv = st.Recv
	}
	first, data := 0, ""
	for {
		ch, err := recv()
		if err == io.EOF {
			return first, data, nil
		}
		if err != nil {
			return first, data, err
		}
		if first == 0 {
			first = len(ch.GetData())
		}
		data += string(ch.GetData())
	}
}

func tunnelFrames(b *bridge, addr string, halfClose bool) ([]*pb.TunnelFrame, error) {
	tn, err := b.dialUnix().Tunnel(quick(b.t))
	if err != nil {
		return nil, err
	}
	tn.Send(&pb.TunnelFrame{Frame: &pb.TunnelFrame_Open{Open: &pb.TunnelOpen{Address: addr}}})
	if halfClose {
		tn.CloseSend()
	}
	var out []*pb.TunnelFrame
	for {
		f, err := tn.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

// oneShotServer accepts one connection on loopback, writes hello and closes it.
func oneShotServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	return l.Addr().String()
}

// reverseRequest sends one request through the tools proxy and returns what the ReverseHTTP stream got.
func reverseRequest(b *bridge) *pb.ReverseHTTPRequest {
	m := regexp.MustCompile(`ACP tools proxy listening addr=(\S+)`).FindStringSubmatch(b.log.String())
	if m == nil {
		return nil
	}
	rh, err := b.dialUnix().ReverseHTTP(quick(b.t))
	if err != nil {
		return nil
	}
	frames := make(chan *pb.ReverseHTTPFrame, 4)
	go func() {
		for {
			f, err := rh.Recv()
			if err != nil {
				return
			}
			frames <- f
		}
	}()
	for i := 0; i < 200; i++ {
		done := make(chan int, 1)
		go func() {
			hr, _ := http.NewRequest("GET", "http://"+m[1]+"/mcp", nil)
			hr.Header.Set("Connection", "X-Hop")
			hr.Header.Set("X-Hop", "1")
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		select {
		case f := <-frames:
			req := f.GetRequest()
			rh.Send(&pb.ReverseHTTPFrame{Frame: &pb.ReverseHTTPFrame_Response{Response: &pb.ReverseHTTPResponse{Id: req.GetId(), StatusCode: 200}}})
			<-done
			return req
		case code := <-done:
			if code != 503 {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

type mtls struct {
	env  []string
	port string
	ca   *x509.Certificate
	mk   func(eku x509.ExtKeyUsage, uri string) []tls.Certificate
}

func newMTLS(t *testing.T) *mtls {
	dir := t.TempDir()
	ca, caKey := newCA(t, "server-client-ca")
	writePEM(t, dir+"/server-client-ca.crt", "CERTIFICATE", ca.Raw)
	srvCA, srvCAKey := newCA(t, "bridge-server-ca")
	srvCert, srvKey := leaf(t, srvCA, srvCAKey, x509.ExtKeyUsageServerAuth, "spiffe://memoh/instance/i1/bridge", "memoh-bridge.i1.bridge.memoh.internal")
	writePEM(t, dir+"/bridge-server.crt", "CERTIFICATE", srvCert.Raw)
	kb, _ := x509.MarshalECPrivateKey(srvKey)
	writePEM(t, dir+"/bridge-server.key", "EC PRIVATE KEY", kb)
	m := &mtls{port: freePort(t), ca: srvCA}
	m.env = []string{"BRIDGE_TCP_ADDR=127.0.0.1:" + m.port, "BRIDGE_TLS_MODE=strict", "BRIDGE_TLS_CERT_FILE=" + dir + "/bridge-server.crt",
		"BRIDGE_TLS_KEY_FILE=" + dir + "/bridge-server.key", "BRIDGE_TLS_CLIENT_CA_FILE=" + dir + "/server-client-ca.crt",
		"BRIDGE_TLS_EXPECTED_CLIENT_URI=spiffe://memoh/instance/i1/server"}
	m.mk = func(eku x509.ExtKeyUsage, uri string) []tls.Certificate {
		c, k := leaf(t, ca, caKey, eku, uri, "")
		return []tls.Certificate{{Certificate: [][]byte{c.Raw}, PrivateKey: k}}
	}
	return m
}

// try dials with the given client certificates and makes one Stat.
func (m *mtls) try(certs []tls.Certificate) error {
	roots := x509.NewCertPool()
	roots.AddCert(m.ca)
	cfg := &tls.Config{RootCAs: roots, ServerName: "memoh-bridge.i1.bridge.memoh.internal", Certificates: certs}
	conn, err := grpc.Dial("127.0.0.1:"+m.port, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return err
	}
	defer conn.Close()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pb.NewContainerServiceClient(conn).Stat(c, &pb.StatRequest{Path: "/"})
	return err
}

var mtlsOf = map[*testing.T]*mtls{}

func withMTLS(t *testing.T) []string {
	m := newMTLS(t)
	mtlsOf[t] = m
	return m.env
}

var probes = map[string]probe{
	"no-listen": {env: func(*testing.T) []string { return []string{"STANDIN_NO_LISTEN_SECONDS=0"} },
		check: func(t *testing.T, b *bridge) bool { return b.listening() }},
	"wire-none": {check: func(t *testing.T, b *bridge) bool {
		_, err := b.dialUnix().Stat(quick(t), &pb.StatRequest{Path: "/"})
		return err == nil
	}},
	"no-reflection": {check: func(t *testing.T, b *bridge) bool {
		return reflectionWorks(b, "grpc.reflection.v1alpha.ServerReflection")
	}},
	"reflection-v1alpha-only": {check: func(t *testing.T, b *bridge) bool {
		return reflectionWorks(b, "grpc.reflection.v1.ServerReflection")
	}},
	"sigterm-hang": {check: func(t *testing.T, b *bridge) bool {
		b.waitListening()
		b.cmd.Process.Signal(syscall.SIGTERM)
		ok, code := b.exited(5 * time.Second)
		return ok && code == 0
	}},
	"sigterm-graceful": {check: func(t *testing.T, b *bridge) bool {
		st, _ := b.dialUnix().Exec(quick(t))
		st.Send(&pb.ExecInput{Command: "echo started; sleep 8", WorkDir: b.dir})
		if o, err := st.Recv(); err != nil || string(o.GetData()) != "started\n" {
			return false
		}
		b.cmd.Process.Signal(syscall.SIGTERM)
		ok, code := b.exited(5 * time.Second)
		return ok && code == 0
	}},
	"msg-4mib": {check: func(t *testing.T, b *bridge) bool {
		_, err := b.dialUnix().WriteFile(quick(t), &pb.WriteFileRequest{Path: b.dir + "/five", Content: make([]byte, 5<<20)})
		return err == nil
	}},
	"listen-fail-exit0": {env: func(*testing.T) []string { return []string{"BRIDGE_SOCKET_PATH=/nonexistent-dir/bridge.sock"} },
		check: func(t *testing.T, b *bridge) bool { ok, code := b.exited(5 * time.Second); return ok && code == 1 }},
	"tcp-any-addr": {env: func(*testing.T) []string { return []string{"BRIDGE_TCP_ADDR=192.0.2.1:1455"} }, // TEST-NET: never bound
		check: func(t *testing.T, b *bridge) bool {
			ok, code := b.exited(5 * time.Second)
			return ok && code == 1 && strings.Contains(b.log.String(), "invalid BRIDGE_TCP_ADDR")
		}},
	"tls-no-client-cert": {env: withMTLS, check: func(t *testing.T, b *bridge) bool {
		b.waitListening()
		return mtlsOf[t].try(nil) != nil
	}},
	"tls-no-uri-check": {env: withMTLS, check: func(t *testing.T, b *bridge) bool {
		b.waitListening()
		m := mtlsOf[t]
		return m.try(m.mk(x509.ExtKeyUsageClientAuth, "spiffe://memoh/instance/other/server")) != nil &&
			m.try(m.mk(-1, "spiffe://memoh/instance/i1/server")) != nil &&
			m.try(m.mk(x509.ExtKeyUsageClientAuth, "spiffe://memoh/instance/i1/server")) == nil
	}},
	"readfile-numbered": {check: func(t *testing.T, b *bridge) bool {
		os.WriteFile(b.dir+"/f", []byte("hello\n"), 0o644)
		r, err := b.dialUnix().ReadFile(quick(t), &pb.ReadFileRequest{Path: b.dir + "/f"})
		return err == nil && r.GetContent() == "hello\n"
	}},
	"readfile-200": {check: func(t *testing.T, b *bridge) bool {
		os.WriteFile(b.dir+"/f", []byte(strings.Repeat("l\n", 300)), 0o644)
		r, err := b.dialUnix().ReadFile(quick(t), &pb.ReadFileRequest{Path: b.dir + "/f"})
		return err == nil && strings.Count(r.GetContent(), "\n") == 300
	}},
	"readfile-longline-uncounted": {check: func(t *testing.T, b *bridge) bool {
		os.WriteFile(b.dir+"/f", []byte("a\n"+strings.Repeat("x", 1<<20)+"\nb\n"), 0o644)
		r, err := b.dialUnix().ReadFile(quick(t), &pb.ReadFileRequest{Path: b.dir + "/f"})
		return err == nil && r.GetTotalLines() == 2 && r.GetContent() == "a\n"
	}},
	"writefile-in-place": {check: func(t *testing.T, b *bridge) bool {
		os.WriteFile(b.dir+"/f", []byte("old"), 0o644)
		_, err := b.dialUnix().WriteFile(quick(t), &pb.WriteFileRequest{Path: b.dir + "/f", Content: []byte("new")})
		fi, _ := os.Stat(b.dir + "/f")
		return err == nil && fi.Mode() == 0o600
	}},
	"writeraw-in-place": {check: func(t *testing.T, b *bridge) bool {
		st, _ := b.dialUnix().WriteRaw(quick(t))
		st.Send(&pb.WriteRawChunk{Path: b.dir + "/raw", Data: []byte("x")})
		_, err := st.CloseAndRecv()
		fi, _ := os.Stat(b.dir + "/raw")
		return err == nil && fi.Mode() == 0o600
	}},
	"writeraw-empty-ok": {check: func(t *testing.T, b *bridge) bool {
		st, _ := b.dialUnix().WriteRaw(quick(t))
		_, err := st.CloseAndRecv()
		return status.Code(err) == codes.InvalidArgument
	}},
	"no-abort": {check: func(t *testing.T, b *bridge) bool {
		st, _ := b.dialUnix().WriteRaw(quick(t))
		st.Send(&pb.WriteRawChunk{Path: b.dir + "/ab", Data: []byte("x")})
		st.Send(&pb.WriteRawChunk{Abort: true})
		_, err := st.CloseAndRecv()
		ns, _ := b.dialUnix().WriteRawNoFollow(quick(t))
		ns.Send(&pb.WriteRawNoFollowChunk{Root: b.dir, RelativePath: "ab2", Data: []byte("x")})
		ns.Send(&pb.WriteRawNoFollowChunk{Abort: true})
		_, err2 := ns.CloseAndRecv()
		_, serr := os.Stat(b.dir + "/ab")
		return status.Code(err) == codes.Aborted && status.Code(err2) == codes.Aborted && serr != nil
	}},
	"rename-internal": {check: func(t *testing.T, b *bridge) bool {
		_, err := b.dialUnix().Rename(quick(t), &pb.RenameRequest{OldPath: b.dir + "/nope", NewPath: b.dir + "/x"})
		return status.Code(err) == codes.NotFound
	}},
	"listdir-no-paging": {check: func(t *testing.T, b *bridge) bool {
		got, r, err := listPaths(b, &pb.ListDirRequest{Recursive: true, Offset: 1, Limit: 2})
		return err == nil && got == "a-b,a/x" && r.GetTotalCount() == 7 && r.GetTruncated()
	}},
	"listdir-no-collapse": {check: func(t *testing.T, b *bridge) bool {
		got, _, err := listPaths(b, &pb.ListDirRequest{Recursive: true, CollapseThreshold: 3})
		return err == nil && got == "a,a-b,a/4 items (not expanded),c"
	}},
	"listdir-no-max-entries": {check: func(t *testing.T, b *bridge) bool {
		_, _, err := listPaths(b, &pb.ListDirRequest{Recursive: true, MaxEntries: 3})
		_, _, err2 := listPaths(b, &pb.ListDirRequest{MaxEntries: 2})
		return status.Code(err) == codes.ResourceExhausted && status.Code(err2) == codes.ResourceExhausted
	}},
	"listdir-preorder": {check: func(t *testing.T, b *bridge) bool {
		got, _, err := listPaths(b, &pb.ListDirRequest{Recursive: true})
		return err == nil && got == "a,a-b,a/x,a/y,a/z,a/z/q,c"
	}},
	"listdir-root-ok": {check: func(t *testing.T, b *bridge) bool {
		_, _, err := listPaths(b, &pb.ListDirRequest{Path: b.dir + "/missing", Recursive: true})
		return status.Code(err) == codes.NotFound
	}},
	"listdir-unsorted": {check: func(t *testing.T, b *bridge) bool {
		got, _, err := listPaths(b, &pb.ListDirRequest{})
		return err == nil && got == "a,a-b,c"
	}},
	"no-clean-env": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "echo \"[$BRIDGE_SOCKET_PATH]\"", CleanEnv: true}).stdout == "[]\n"
	}},
	"no-unset-env": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "echo \"[$BRIDGE_SOCKET_PATH]\"", UnsetEnv: []string{"BRIDGE_SOCKET_PATH"}}).stdout == "[]\n"
	}},
	"unset-env-no-wildcard": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "echo \"[$BRIDGE_SOCKET_PATH]\"", UnsetEnv: []string{"BRIDGE_*"}}).stdout == "[]\n"
	}},
	"exec-first-stdin-ignored": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "cat", StdinData: []byte("A")}, &pb.ExecInput{StdinData: []byte("B")}).stdout == "AB"
	}},
	"exec-stdin-ignored": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "cat"}, &pb.ExecInput{StdinData: []byte("B")}).stdout == "B"
	}},
	"exec-workdir-cwd": {check: func(t *testing.T, b *bridge) bool {
		os.MkdirAll(b.dir+"/rel", 0o755) // the bridge's cwd is b.dir: the seed would run there
		r := execOK(b, &pb.ExecInput{Command: "pwd", WorkDir: "rel"})
		return r.stdout == "/data/rel\n" || r.exit == -999 && strings.Contains(r.stderr, "start: ")
	}},
	"exec-workdir-ignored": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "pwd"}).stdout == b.dir+"\n"
	}},
	"exec-kill-shell-only": {check: func(t *testing.T, b *bridge) bool {
		r := execOK(b, &pb.ExecInput{Command: "(sleep 4; echo child) & echo parent", TimeoutSeconds: 1})
		return r.stdout == "parent\n" && r.exit == -1
	}},
	"exec-no-timeout": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "sleep 4", TimeoutSeconds: 1}).exit == 137
	}},
	"exit-minus-one": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "kill -9 $$"}).exit == 137
	}},
	"exec-exit-code": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "exit 3"}).exit == 3
	}},
	"exec-no-exit-msg": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "true"}).exits == 1
	}},
	"exec-stderr-as-stdout": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "echo e >&2"}).stderr == "e\n"
	}},
	"exec-env-ignored": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "echo $MINE", Env: []string{"MINE=1"}}).stdout == "1\n"
	}},
	"pty-no-timeout": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "sleep 30", Pty: true, TimeoutSeconds: 1}).exit == 137
	}},
	"pty-sh-c": {check: func(t *testing.T, b *bridge) bool {
		// "cd" exists only as a shell builtin: exec'd directly it cannot start.
		return execOK(b, &pb.ExecInput{Command: "cd", Pty: true}).exit == -999
	}},
	"pty-no-term": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "echo $TERM", Pty: true}).stdout == "xterm-256color\r\n"
	}},
	"pty-half-close-kills": {check: func(t *testing.T, b *bridge) bool {
		// tryExec half-closes after the config: the session must still run to its end.
		return execOK(b, &pb.ExecInput{Command: "sleep 0.3; echo done", Pty: true}).stdout == "done\r\n"
	}},
	"pty-no-resize": {check: func(t *testing.T, b *bridge) bool {
		return execOK(b, &pb.ExecInput{Command: "stty size", Pty: true, Resize: &pb.TerminalResize{Cols: 100, Rows: 30}}).stdout == "30 100\r\n"
	}},
	"stat-notfound-code": {check: func(t *testing.T, b *bridge) bool {
		_, err := b.dialUnix().Stat(quick(t), &pb.StatRequest{Path: b.dir + "/nope"})
		return status.Code(err) == codes.NotFound
	}},
	"mkdir-not-p": {check: func(t *testing.T, b *bridge) bool {
		_, err := b.dialUnix().Mkdir(quick(t), &pb.MkdirRequest{Path: b.dir + "/m/n"})
		return err == nil
	}},
	"rename-no-parents": {check: func(t *testing.T, b *bridge) bool {
		os.WriteFile(b.dir+"/f", nil, 0o644)
		_, err := b.dialUnix().Rename(quick(t), &pb.RenameRequest{OldPath: b.dir + "/f", NewPath: b.dir + "/p/q/f"})
		return err == nil
	}},
	"delete-nonrecursive-ok": {check: func(t *testing.T, b *bridge) bool {
		os.MkdirAll(b.dir+"/d/e", 0o755)
		_, err := b.dialUnix().DeleteFile(quick(t), &pb.DeleteFileRequest{Path: b.dir + "/d"})
		return err != nil
	}},
	"readraw-chunk": {check: func(t *testing.T, b *bridge) bool {
		os.WriteFile(b.dir+"/big", make([]byte, 100<<10), 0o644)
		n1, _, err1 := readRaw(b, false, b.dir, "big")
		n2, _, err2 := readRaw(b, true, b.dir, "big")
		return err1 == nil && err2 == nil && n1 == 64<<10 && n2 == 64<<10
	}},
	"writeraw-count": {check: func(t *testing.T, b *bridge) bool {
		st, _ := b.dialUnix().WriteRaw(quick(t))
		st.Send(&pb.WriteRawChunk{Path: b.dir + "/w", Data: []byte("abc")})
		r, err := st.CloseAndRecv()
		ns, _ := b.dialUnix().WriteRawNoFollow(quick(t))
		ns.Send(&pb.WriteRawNoFollowChunk{Root: b.dir, RelativePath: "w2", Data: []byte("abc")})
		r2, err2 := ns.CloseAndRecv()
		return err == nil && err2 == nil && r.GetBytesWritten() == 3 && r2.GetBytesWritten() == 3
	}},
	"nofollow-follows": {check: func(t *testing.T, b *bridge) bool {
		os.MkdirAll(b.dir+"/real", 0o755)
		os.WriteFile(b.dir+"/real/f", []byte("x"), 0o644)
		os.Symlink(b.dir+"/real", b.dir+"/ln")
		_, _, err := readRaw(b, true, b.dir, "ln/f")
		return status.Code(err) == codes.FailedPrecondition
	}},
	"nofollow-overwrite": {check: func(t *testing.T, b *bridge) bool {
		os.WriteFile(b.dir+"/exists", []byte("x"), 0o644)
		ns, _ := b.dialUnix().WriteRawNoFollow(quick(t))
		ns.Send(&pb.WriteRawNoFollowChunk{Root: b.dir, RelativePath: "exists", Data: []byte("y")})
		_, err := ns.CloseAndRecv()
		return status.Code(err) == codes.AlreadyExists
	}},
	"tunnel-any-host": {check: func(t *testing.T, b *bridge) bool {
		_, err := tunnelFrames(b, "192.0.2.1:80", true) // TEST-NET: the break dials it and fails differently
		return status.Code(err) == codes.PermissionDenied
	}},
	"tunnel-no-ack": {check: func(t *testing.T, b *bridge) bool {
		fs, err := tunnelFrames(b, oneShotServer(t), true)
		return err == nil && len(fs) > 0 && fs[0].GetData() != nil && len(fs[0].GetData().GetData()) == 0
	}},
	"tunnel-no-close": {check: func(t *testing.T, b *bridge) bool {
		fs, err := tunnelFrames(b, oneShotServer(t), true)
		return err == nil && len(fs) > 0 && fs[len(fs)-1].GetClose() != nil
	}},
	"reverse-http-off": {check: func(t *testing.T, b *bridge) bool {
		b.waitListening()
		return strings.Contains(b.log.String(), "ACP tools proxy listening addr=")
	}},
	"reverse-http-hop-headers": {check: func(t *testing.T, b *bridge) bool {
		b.waitListening()
		req := reverseRequest(b)
		if req == nil {
			return false
		}
		for _, h := range req.GetHeaders() {
			if n := strings.ToLower(h.GetName()); n == "connection" || n == "x-hop" {
				return false
			}
		}
		return true
	}},
}

func TestEveryBreakIsCaught(t *testing.T) {
	for name := range knownBreaksV018 {
		if _, ok := probes[name]; !ok && probeExempt[name] == "" {
			t.Errorf("break %q has no probe (add one, or an exemption with its reason)", name)
		}
	}
	for name, p := range probes {
		name, p := name, p
		if _, ok := knownBreaksV018[name]; !ok {
			t.Errorf("probe for unknown break %q", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, broken := range []bool{false, true} {
				env := []string{}
				if p.env != nil {
					env = p.env(t)
				}
				if broken {
					env = append(env, "STANDIN_BREAK="+name)
				}
				b := startBridge(t, env...)
				if got := p.check(t, b); got == broken {
					t.Fatalf("broken=%v: probe saw the v0.18 behaviour: %v; log:\n%s", broken, got, b.log.String())
				}
				b.cmd.Process.Kill()
				<-b.done
				if b.conn != nil {
					b.conn.Close()
					b.conn = nil
				}
			}
		})
	}
}
