//go:build memoh_v018

package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	pb "memohstandin/pb/bridgepb"
)

const (
	reverseRouteHeader = "x-memoh-reverse-http-route"
	reverseWait        = 2 * time.Minute
)

// reverseHub connects the in-container tools proxy (HTTP on 127.0.0.1:18732) to the ReverseHTTP stream a
// client (Memoh's server) keeps open: each HTTP request goes down the newest stream of its route as a
// ReverseHTTPRequest; the client answers with a ReverseHTTPResponse or ReverseHTTPError carrying the id.
type reverseHub struct {
	mu      sync.Mutex
	streams map[string]*reverseStream // newest stream per route
	pending map[string]chan *pb.ReverseHTTPFrame
	seq     atomic.Int64
}

type reverseStream struct {
	mu     sync.Mutex
	stream pb.ContainerService_ReverseHTTPServer
}

func (r *reverseStream) send(f *pb.ReverseHTTPFrame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stream.Send(f)
}

func newReverseHub() *reverseHub {
	return &reverseHub{streams: map[string]*reverseStream{}, pending: map[string]chan *pb.ReverseHTTPFrame{}}
}

func (s *server) ReverseHTTP(stream pb.ContainerService_ReverseHTTPServer) error {
	route := ""
	if md, ok := metadata.FromIncomingContext(stream.Context()); ok {
		if v := md.Get(reverseRouteHeader); len(v) > 0 {
			route = v[0]
		}
	}
	h := s.hub
	rs := &reverseStream{stream: stream}
	h.mu.Lock()
	h.streams[route] = rs // a newer stream takes new requests; the old one stays open for its answers
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if h.streams[route] == rs {
			delete(h.streams, route)
		}
		h.mu.Unlock()
	}()
	for {
		f, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var id string
		switch {
		case f.GetResponse() != nil:
			id = f.GetResponse().GetId()
		case f.GetError() != nil:
			id = f.GetError().GetId()
		default:
			continue
		}
		h.mu.Lock()
		ch := h.pending[id]
		delete(h.pending, id)
		h.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
}

// hopByHop are the headers a proxy must not forward (RFC 9110 §7.6.1), plus Content-Length.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}

func dropHopByHop(h http.Header) http.Header {
	out := h.Clone()
	for _, c := range h.Values("Connection") {
		for _, name := range strings.Split(c, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		out.Del(name)
	}
	return out
}

func (h *reverseHub) serveHTTP(w http.ResponseWriter, r *http.Request, br breakSet) {
	const route = ""
	h.mu.Lock()
	rs := h.streams[route]
	h.mu.Unlock()
	if rs == nil {
		http.Error(w, "memoh tools proxy is not connected", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	hdr := r.Header
	if !br.on("reverse-http-hop-headers") {
		hdr = dropHopByHop(hdr)
	} else if r.ContentLength >= 0 {
		hdr = hdr.Clone()
		hdr.Set("Content-Length", fmt.Sprint(r.ContentLength))
	}
	req := &pb.ReverseHTTPRequest{
		Id:     fmt.Sprintf("reverse-http-%d", h.seq.Add(1)),
		Method: r.Method,
		Url:    r.RequestURI,
		Body:   body,
	}
	for name, values := range hdr {
		req.Headers = append(req.Headers, &pb.HTTPHeader{Name: name, Values: values})
	}
	ch := make(chan *pb.ReverseHTTPFrame, 1)
	h.mu.Lock()
	h.pending[req.Id] = ch
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.pending, req.Id)
		h.mu.Unlock()
	}()
	if err := rs.send(&pb.ReverseHTTPFrame{Frame: &pb.ReverseHTTPFrame_Request{Request: req}}); err != nil {
		http.Error(w, "memoh tools proxy is not connected", http.StatusServiceUnavailable)
		return
	}
	t := time.NewTimer(reverseWait)
	defer t.Stop()
	select {
	case f := <-ch:
		if e := f.GetError(); e != nil {
			http.Error(w, e.GetError(), http.StatusBadGateway)
			return
		}
		resp := f.GetResponse()
		got := http.Header{}
		for _, hh := range resp.GetHeaders() {
			for _, v := range hh.GetValues() {
				got.Add(textproto.CanonicalMIMEHeaderKey(hh.GetName()), v)
			}
		}
		// The body is written whole here, so the answer's own framing headers would only contradict it.
		for name, vs := range dropHopByHop(got) {
			w.Header()[name] = vs
		}
		code := int(resp.GetStatusCode())
		if code < 100 || code > 999 {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		_, _ = w.Write(resp.GetBody())
	case <-t.C:
		http.Error(w, "memoh tools proxy timed out", http.StatusGatewayTimeout)
	case <-r.Context().Done():
	}
}

// startToolsProxy starts the loopback HTTP listener (MEMOH_ACP_TOOLS_PROXY_ADDR, default 127.0.0.1:18732).
func startToolsProxy(h *reverseHub, br breakSet) {
	addr := os.Getenv("MEMOH_ACP_TOOLS_PROXY_ADDR")
	if addr == "" {
		addr = defaultToolsProxyAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		slog.Error("ACP tools proxy address must be loopback", "addr", addr)
		return
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		slog.Error("ACP tools proxy listen failed", "addr", addr, "error", err)
		return
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serveHTTP(w, r, br) }),
		ReadHeaderTimeout: 30 * time.Second,
	}
	slog.Info("ACP tools proxy listening", "addr", lis.Addr().String())
	go func() { _ = srv.Serve(lis) }()
}
