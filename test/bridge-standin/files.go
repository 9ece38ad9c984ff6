//go:build !memoh_v018

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
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "memohstandin/pb/mcpcontainer"
)

const (
	readFileBinaryProbe = 8192        // bytes read once from the start for the NUL test
	readFileMaxLines    = 200         // n_lines < 1 or > 200 becomes 200
	readFileByteBudget  = 5120        // total content, prefixes included
	readFileMaxRunes    = 1000        // longer lines are cut and get "..."
	readFileScanLimit   = 1024 * 1024 // bufio.Scanner token limit; a longer line silently stops the scan
	rawChunkSize        = 64 * 1024
)

type server struct {
	pb.UnimplementedContainerServiceServer
	br    breakSet
	crash *crashCounter
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

func (s *server) ReadFile(_ context.Context, req *pb.ReadFileRequest) (*pb.ReadFileResponse, error) {
	if req.GetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "path is required")
	}
	f, err := os.Open(resolvePath(req.GetPath()))
	if err != nil {
		return nil, status.Errorf(codes.NotFound, "open: %v", err)
	}
	defer f.Close()

	// Binary check: one read of up to 8 KiB; any NUL byte means binary. A read error (directory) is swallowed.
	probe := make([]byte, readFileBinaryProbe)
	n, _ := f.Read(probe)
	if bytes.IndexByte(probe[:n], 0) >= 0 {
		return &pb.ReadFileResponse{Binary: true}, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &pb.ReadFileResponse{}, nil
	}

	offset := int(req.GetLineOffset())
	if offset < 1 {
		offset = 1
	}
	limit := int(req.GetNLines())
	if !s.br.on("readfile-no-limit") {
		if limit < 1 || limit > readFileMaxLines {
			limit = readFileMaxLines
		}
	} else if limit < 1 {
		limit = int(^uint(0) >> 1)
	}

	sc := bufio.NewScanner(f) // ScanLines: splits on \n, drops one trailing \r, keeps a final unterminated line
	sc.Buffer(make([]byte, 64*1024), readFileScanLimit)
	var out strings.Builder
	total, shown, full := 0, 0, false
	for sc.Scan() {
		total++
		if total < offset || shown >= limit || full {
			continue
		}
		line := sc.Text()
		if !s.br.on("readfile-no-truncate") {
			line = truncateRunes(line, readFileMaxRunes)
		}
		var formatted string
		if s.br.on("readfile-no-prefix") {
			formatted = line + "\n"
		} else {
			formatted = fmt.Sprintf("%6d\t%s\n", total, line)
		}
		if !s.br.on("readfile-no-budget") && out.Len()+len(formatted) > readFileByteBudget {
			full = true // this line and every later one are left out entirely
			continue
		}
		out.WriteString(formatted)
		shown++
	}
	// sc.Err() (e.g. a line over the scanner limit, or reading a directory) is ignored on purpose.
	return &pb.ReadFileResponse{Content: out.String(), TotalLines: int32(total)}, nil
}

// truncateRunes keeps the first max code points and appends "..." when the line is longer. It slices the
// original bytes, so invalid UTF-8 in the kept part survives (and then fails serialisation, as in the reference).
func truncateRunes(line string, max int) string {
	if utf8.RuneCountInString(line) <= max {
		return line
	}
	i, count := 0, 0
	for i < len(line) && count < max {
		_, size := utf8.DecodeRuneInString(line[i:])
		i += size
		count++
	}
	return line[:i] + "..."
}

func (s *server) WriteFile(_ context.Context, req *pb.WriteFileRequest) (*pb.WriteFileResponse, error) {
	if req.GetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "path is required")
	}
	p := resolvePath(req.GetPath())
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return nil, status.Errorf(codes.Internal, "mkdir: %v", err)
	}
	mode := os.FileMode(0o600)
	if s.br.on("writefile-mode") {
		mode = 0o644
	}
	if err := os.WriteFile(p, req.GetContent(), mode); err != nil {
		return nil, status.Errorf(codes.Internal, "write: %v", err)
	}
	return &pb.WriteFileResponse{}, nil
}

func (s *server) ListDir(_ context.Context, req *pb.ListDirRequest) (*pb.ListDirResponse, error) {
	dir := dataDir
	if req.GetPath() != "" {
		dir = resolvePath(req.GetPath())
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
			entries = append(entries, fileEntry(de.Name(), info))
		}
		if s.br.on("listdir-unsorted") {
			sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path > entries[j].Path })
		}
		return &pb.ListDirResponse{Entries: entries}, nil
	}
	// Recursive: depth-first pre-order, siblings by name, symlinks not followed, every error skipped.
	_ = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		entries = append(entries, fileEntry(filepath.ToSlash(rel), info))
		return nil
	})
	return &pb.ListDirResponse{Entries: entries}, nil
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
			return nil, status.Errorf(codes.Internal, "mkdir: %v", err)
		}
	}
	if err := os.Rename(oldPath, newPath); err != nil {
		return nil, status.Errorf(codes.Internal, "rename: %v", err) // a missing source is INTERNAL too
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
	size := rawChunkSize
	if s.br.on("readraw-chunk") {
		size = 32 * 1024
	}
	buf := make([]byte, size)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if serr := stream.Send(&pb.DataChunk{Data: append([]byte(nil), buf[:n]...)}); serr != nil {
				return serr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "read: %v", err)
		}
	}
}

func (s *server) WriteRaw(stream pb.ContainerService_WriteRawServer) error {
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
			if f, err = os.Create(p); err != nil { // 0666 before umask, truncates
				return status.Errorf(codes.Internal, "create: %v", err)
			}
			defer f.Close()
		}
		if len(chunk.GetData()) > 0 {
			n, err := f.Write(chunk.GetData())
			written += int64(n)
			if err != nil {
				return status.Errorf(codes.Internal, "write: %v", err)
			}
		}
	}
	if s.br.on("writeraw-count") {
		written++
	}
	return stream.SendAndClose(&pb.WriteRawResponse{BytesWritten: written})
}
