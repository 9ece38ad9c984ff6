//go:build memoh_v018

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "memohstandin/pb/bridgepb"
)

const (
	readFileBinaryProbe = 8192        // bytes read once from the start for the NUL test
	readFileMaxLines    = 2000        // n_lines < 1 or > 2000 becomes 2000
	readFileScanLimit   = 1024 * 1024 // a line this long (or longer) ends the output, but is counted
	rawChunkSize        = 64 * 1024
	listDirMaxLimit     = 200
)

type server struct {
	pb.UnimplementedContainerServiceServer
	br  breakSet
	hub *reverseHub
}

// resolvePath: absolute paths are cleaned; relative ones are joined onto /data (".." may climb out). No sandbox.
func resolvePath(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dataDir, p)
}

func fileEntry(name string, info fs.FileInfo) *pb.FileEntry {
	return &pb.FileEntry{
		Path:    name,
		IsDir:   info.IsDir(),
		Size:    info.Size(),
		Mode:    info.Mode().String(),
		ModTime: info.ModTime().Format(time.RFC3339),
	}
}

func ctxStatus(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

func (s *server) ReadFile(_ context.Context, req *pb.ReadFileRequest) (*pb.ReadFileResponse, error) {
	if req.GetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "path is required")
	}
	f, err := os.Open(resolvePath(req.GetPath()))
	if err != nil {
		return nil, status.Errorf(codes.NotFound, "open: %v", err)
	}
	defer f.Close()

	probe := make([]byte, readFileBinaryProbe)
	n, _ := f.Read(probe)
	if bytes.IndexByte(probe[:n], 0) >= 0 {
		return &pb.ReadFileResponse{Binary: true}, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &pb.ReadFileResponse{}, nil
	}

	maxLines := readFileMaxLines
	if s.br.on("readfile-200") {
		maxLines = 200
	}
	offset := int(req.GetLineOffset())
	if offset < 1 {
		offset = 1
	}
	limit := int(req.GetNLines())
	if limit < 1 || limit > maxLines {
		limit = maxLines
	}

	sc := bufio.NewScanner(f) // ScanLines: splits on \n, drops one trailing \r, keeps a final unterminated line
	sc.Buffer(make([]byte, 64*1024), readFileScanLimit)
	var out strings.Builder
	total, shown := 0, 0
	for sc.Scan() {
		total++
		if total < offset || shown >= limit {
			continue
		}
		if s.br.on("readfile-numbered") {
			fmt.Fprintf(&out, "%6d\t%s\n", total, sc.Text())
		} else {
			out.WriteString(sc.Text())
			out.WriteByte('\n')
		}
		shown++
	}
	// A line over the scanner limit stops the scan; measured on the live bridge, it is still counted.
	if errors.Is(sc.Err(), bufio.ErrTooLong) && !s.br.on("readfile-longline-uncounted") {
		total++
	}
	return &pb.ReadFileResponse{Content: out.String(), TotalLines: int32(total)}, nil
}

func (s *server) WriteFile(ctx context.Context, req *pb.WriteFileRequest) (*pb.WriteFileResponse, error) {
	if req.GetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "path is required")
	}
	p := resolvePath(req.GetPath())
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return nil, status.Errorf(codes.Internal, "mkdir: %v", err)
	}
	if s.br.on("writefile-in-place") {
		if err := os.WriteFile(p, req.GetContent(), 0o600); err != nil {
			return nil, status.Errorf(codes.Internal, "write: %v", err)
		}
		return &pb.WriteFileResponse{}, nil
	}
	// Atomic: a temp file in the same dir, renamed over the target (so the result is always 0600 and a
	// symlink at the target is replaced, not followed).
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*") // 0600
	if err != nil {
		return nil, status.Errorf(codes.Internal, "create temp file: %v", err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(req.GetContent()); err != nil {
		return nil, status.Errorf(codes.Internal, "write: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, status.Errorf(codes.Internal, "close: %v", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxStatus(err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return nil, status.Errorf(codes.Internal, "rename: %v", err)
	}
	committed = true
	return &pb.WriteFileResponse{}, nil
}

func (s *server) ListDir(_ context.Context, req *pb.ListDirRequest) (*pb.ListDirResponse, error) {
	dir := dataDir
	if req.GetPath() != "" {
		dir = resolvePath(req.GetPath())
	}
	max := int(req.GetMaxEntries())
	if s.br.on("listdir-no-max-entries") {
		max = 0
	}
	entries := []*pb.FileEntry{}
	if !req.GetRecursive() {
		des, err := os.ReadDir(dir) // sorted by name (byte order), no . or ..
		if err != nil {
			return nil, status.Errorf(codes.NotFound, "readdir: %v", err)
		}
		for _, de := range des {
			info, err := de.Info() // lstat: symlinks are reported as links
			if err != nil {
				continue
			}
			if max > 0 && len(entries) >= max {
				return nil, status.Errorf(codes.ResourceExhausted, "directory listing exceeds %d entries", max)
			}
			entries = append(entries, fileEntry(de.Name(), info))
		}
		if s.br.on("listdir-unsorted") {
			sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path > entries[j].Path })
		}
	} else {
		var err error
		if entries, err = s.walk(dir, max); err != nil {
			return nil, err
		}
		if n := int(req.GetCollapseThreshold()); n > 0 && !s.br.on("listdir-no-collapse") {
			entries = collapse(entries, n)
		}
		if !s.br.on("listdir-preorder") {
			sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
		}
	}
	if s.br.on("listdir-no-paging") {
		return &pb.ListDirResponse{Entries: entries}, nil
	}
	total := len(entries)
	offset, limit := int(req.GetOffset()), int(req.GetLimit())
	if offset < 0 {
		offset = 0
	}
	if limit > listDirMaxLimit {
		limit = listDirMaxLimit
	}
	page := []*pb.FileEntry{}
	if offset < total {
		end := total
		if limit > 0 && offset+limit < end {
			end = offset + limit
		}
		page = entries[offset:end]
	}
	return &pb.ListDirResponse{Entries: page, TotalCount: int32(total), Truncated: offset+len(page) < total}, nil
}

// walk lists everything below dir (pre-order, siblings by name, symlinks not followed except the root).
// A root error is NOT_FOUND `walk: …`; errors below it are skipped.
func (s *server) walk(dir string, max int) ([]*pb.FileEntry, error) {
	entries := []*pb.FileEntry{}
	root, err := os.Stat(dir)
	if err == nil && !root.IsDir() {
		err = fmt.Errorf("readdir %s: not a directory", dir)
	}
	if err == nil {
		var f *os.File
		if f, err = os.Open(dir); err == nil {
			_, err = f.ReadDir(1)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			f.Close()
		}
	}
	if err != nil {
		if s.br.on("listdir-root-ok") {
			return entries, nil
		}
		return nil, status.Errorf(codes.NotFound, "walk: %v", err)
	}
	var visit func(rel string) error
	visit = func(rel string) error {
		des, err := os.ReadDir(filepath.Join(dir, rel))
		if err != nil {
			return nil // errors below the root are skipped
		}
		for _, de := range des {
			info, err := de.Info()
			if err != nil {
				continue
			}
			if max > 0 && len(entries) >= max {
				return status.Errorf(codes.ResourceExhausted, "recursive listing exceeds %d entries", max)
			}
			p := filepath.ToSlash(filepath.Join(rel, de.Name()))
			entries = append(entries, fileEntry(p, info))
			if de.IsDir() {
				if err := visit(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(""); err != nil {
		return nil, err
	}
	return entries, nil // pre-order; ListDir sorts it by the whole relative path
}

// collapse replaces the descendants of each top-level directory that has more than n of them by one
// synthetic entry "<dir>/" whose summary says how many were left out.
func collapse(entries []*pb.FileEntry, n int) []*pb.FileEntry {
	count := map[string]int{}
	for _, e := range entries {
		if i := strings.IndexByte(e.Path, '/'); i > 0 {
			count[e.Path[:i]]++
		}
	}
	out := make([]*pb.FileEntry, 0, len(entries))
	for _, e := range entries {
		if i := strings.IndexByte(e.Path, '/'); i > 0 && count[e.Path[:i]] > n {
			continue
		}
		out = append(out, e)
		if e.IsDir && count[e.Path] > n {
			out = append(out, &pb.FileEntry{Path: e.Path + "/", IsDir: true,
				Summary: fmt.Sprintf("%d items (not expanded)", count[e.Path])})
		}
	}
	return out
}

func (s *server) Stat(_ context.Context, req *pb.StatRequest) (*pb.StatResponse, error) {
	if req.GetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "path is required")
	}
	p := resolvePath(req.GetPath())
	info, err := os.Stat(p) // follows symlinks
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if s.br.on("stat-notfound-code") {
				return nil, status.Error(codes.Internal, "not found")
			}
			return nil, status.Error(codes.NotFound, "not found")
		}
		return nil, status.Errorf(codes.Internal, "stat: %v", err)
	}
	return &pb.StatResponse{Entry: fileEntry(filepath.Base(p), info)}, nil
}

func (s *server) Mkdir(_ context.Context, req *pb.MkdirRequest) (*pb.MkdirResponse, error) {
	if req.GetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "path is required")
	}
	mkdir := os.MkdirAll
	if s.br.on("mkdir-not-p") {
		mkdir = os.Mkdir
	}
	if err := mkdir(resolvePath(req.GetPath()), 0o750); err != nil {
		return nil, status.Errorf(codes.Internal, "mkdir: %v", err)
	}
	return &pb.MkdirResponse{}, nil
}

func (s *server) Rename(_ context.Context, req *pb.RenameRequest) (*pb.RenameResponse, error) {
	if req.GetOldPath() == "" || req.GetNewPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "old_path and new_path are required")
	}
	oldPath, newPath := resolvePath(req.GetOldPath()), resolvePath(req.GetNewPath())
	if !s.br.on("rename-no-parents") {
		if err := os.MkdirAll(filepath.Dir(newPath), 0o750); err != nil {
			return nil, status.Errorf(codes.Internal, "mkdir parent: %v", err)
		}
	}
	if err := os.Rename(oldPath, newPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) && !s.br.on("rename-internal") {
			if _, serr := os.Lstat(oldPath); serr != nil {
				return nil, status.Errorf(codes.NotFound, "rename: %v", err)
			}
		}
		return nil, status.Errorf(codes.Internal, "rename: %v", err)
	}
	return &pb.RenameResponse{}, nil
}

func (s *server) DeleteFile(_ context.Context, req *pb.DeleteFileRequest) (*pb.DeleteFileResponse, error) {
	if req.GetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "path is required")
	}
	p := resolvePath(req.GetPath())
	if req.GetRecursive() {
		if err := os.RemoveAll(p); err != nil {
			return nil, status.Errorf(codes.Internal, "delete: %v", err)
		}
		return &pb.DeleteFileResponse{}, nil
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &pb.DeleteFileResponse{}, nil
		}
		if s.br.on("delete-nonrecursive-ok") {
			if err2 := os.RemoveAll(p); err2 == nil {
				return &pb.DeleteFileResponse{}, nil
			}
		}
		return nil, status.Errorf(codes.Internal, "delete: %v", err)
	}
	return &pb.DeleteFileResponse{}, nil
}

func (s *server) ReadRaw(req *pb.ReadRawRequest, stream pb.ContainerService_ReadRawServer) error {
	if req.GetPath() == "" {
		return status.Error(codes.InvalidArgument, "path is required")
	}
	f, err := os.Open(resolvePath(req.GetPath()))
	if err != nil {
		return status.Errorf(codes.NotFound, "open: %v", err)
	}
	defer f.Close()
	return s.sendChunks(f, stream.Send)
}

func (s *server) sendChunks(f *os.File, send func(*pb.DataChunk) error) error {
	size := rawChunkSize
	if s.br.on("readraw-chunk") {
		size = 32 * 1024
	}
	buf := make([]byte, size)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			if serr := send(&pb.DataChunk{Data: append([]byte(nil), buf[:n]...)}); serr != nil {
				return serr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "read: %v", err)
		}
	}
}

// WriteRaw: the first chunk names the path; the data goes to a temp file in the target's dir that is
// renamed over the target at EOF (0600). abort=true drops the temp file and leaves the target untouched.
func (s *server) WriteRaw(stream pb.ContainerService_WriteRawServer) error {
	if s.br.on("writeraw-in-place") {
		return s.writeRawInPlace(stream)
	}
	var tmp *os.File
	var target string
	var written int64
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if tmp == nil {
			if chunk.GetPath() == "" {
				return status.Error(codes.InvalidArgument, "first chunk must include path")
			}
			target = resolvePath(chunk.GetPath())
			if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
				return status.Errorf(codes.Internal, "create temp file: %v", err)
			}
			if tmp, err = os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*"); err != nil {
				tmp = nil
				return status.Errorf(codes.Internal, "create temp file: %v", err)
			}
		}
		if chunk.GetAbort() && !s.br.on("no-abort") {
			return status.Error(codes.Aborted, "write aborted by sender")
		}
		if len(chunk.GetData()) > 0 {
			n, err := tmp.Write(chunk.GetData())
			written += int64(n)
			if err != nil {
				return status.Errorf(codes.Internal, "write: %v", err)
			}
		}
	}
	if tmp == nil {
		if s.br.on("writeraw-empty-ok") {
			return stream.SendAndClose(&pb.WriteRawResponse{})
		}
		return status.Error(codes.InvalidArgument, "first chunk must include path")
	}
	if err := tmp.Close(); err != nil {
		return status.Errorf(codes.Internal, "close: %v", err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return status.Errorf(codes.Internal, "commit: %v", err)
	}
	tmp = nil
	if s.br.on("writeraw-count") {
		written++
	}
	return stream.SendAndClose(&pb.WriteRawResponse{BytesWritten: written})
}

// writeRawInPlace is the seed's WriteRaw (break writeraw-in-place): truncate the target, 0666&~umask.
func (s *server) writeRawInPlace(stream pb.ContainerService_WriteRawServer) error {
	var f *os.File
	var written int64
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if f == nil {
			if chunk.GetPath() == "" {
				return status.Error(codes.InvalidArgument, "first chunk must include path")
			}
			p := resolvePath(chunk.GetPath())
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				return status.Errorf(codes.Internal, "mkdir: %v", err)
			}
			if f, err = os.Create(p); err != nil {
				return status.Errorf(codes.Internal, "create: %v", err)
			}
			defer f.Close()
		}
		n, err := f.Write(chunk.GetData())
		written += int64(n)
		if err != nil {
			return status.Errorf(codes.Internal, "write: %v", err)
		}
	}
	return stream.SendAndClose(&pb.WriteRawResponse{BytesWritten: written})
}
