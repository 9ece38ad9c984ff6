//go:build memoh_v018

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "memohstandin/pb/bridgepb"
)

// Anchored ("NoFollow") I/O: every component from / down, root included, is resolved by the kernel with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS), so no symlink is ever followed.
const resolveNoFollow = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// checkAnchored: root must be absolute; relative_path clean, relative, without "..", without NUL.
func checkAnchored(root, rel string) error {
	switch {
	case root == "" || !filepath.IsAbs(root):
		return fmt.Errorf("root %q must be an absolute path", root)
	case strings.ContainsRune(root, 0) || strings.ContainsRune(rel, 0):
		return errors.New("path contains NUL")
	case rel == "" || rel == ".":
		return errors.New("relative_path is required")
	case filepath.IsAbs(rel):
		return fmt.Errorf("relative_path %q must be relative", rel)
	case filepath.Clean(rel) != rel:
		return fmt.Errorf("relative_path %q is not clean", rel)
	case rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") || strings.HasSuffix(rel, "/.."):
		return fmt.Errorf("relative_path %q escapes root", rel)
	}
	return nil
}

// fromSlash is a path below / as openat2 wants it relative to a dirfd of /.
func fromSlash(p string) string {
	p = strings.TrimPrefix(filepath.Clean(p), "/")
	if p == "" {
		return "."
	}
	return p
}

// openatNoFollow opens name below dirfd without following any symlink.
func openatNoFollow(dirfd int, name string, flags uint64, mode uint64) (int, error) {
	for {
		fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Mode: mode, Resolve: resolveNoFollow})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// anchoredErr maps an openat2 failure: missing → NOT_FOUND; a symlink, an escape, or a kernel or
// seccomp profile without openat2 → FAILED_PRECONDITION.
func anchoredErr(what string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return status.Errorf(codes.NotFound, "%s: %v", what, err)
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOTDIR),
		errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM), errors.Is(err, unix.EAGAIN):
		return status.Errorf(codes.FailedPrecondition, "%s: unsafe or unsupported path: %v", what, err)
	}
	return status.Errorf(codes.Internal, "%s: %v", what, err)
}

func (s *server) ReadRawNoFollow(req *pb.ReadRawNoFollowRequest, stream pb.ContainerService_ReadRawNoFollowServer) error {
	if err := checkAnchored(req.GetRoot(), req.GetRelativePath()); err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid anchored read path: %v", err)
	}
	full := filepath.Join(req.GetRoot(), req.GetRelativePath())
	var f *os.File
	if s.br.on("nofollow-follows") {
		var err error
		if f, err = os.Open(full); err != nil {
			return anchoredErr("open anchored file", err)
		}
	} else {
		slash, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return anchoredErr("open anchored file", err)
		}
		fd, err := openatNoFollow(slash, fromSlash(full), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		unix.Close(slash)
		if err != nil {
			return anchoredErr("open anchored file", err)
		}
		f = os.NewFile(uintptr(fd), full)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return status.Errorf(codes.Internal, "stat anchored file: %v", err)
	}
	if !info.Mode().IsRegular() {
		return status.Errorf(codes.FailedPrecondition, "open anchored file: unsafe or unsupported path: %s is not a regular file", full)
	}
	return s.sendChunks(f, stream.Send)
}

// createAnchored creates root/rel with O_CREAT|O_EXCL, 0600, making missing parents inside rel (0750).
func (s *server) createAnchored(root, rel string) (*os.File, error) {
	full := filepath.Join(root, rel)
	if s.br.on("nofollow-follows") {
		if _, err := os.Stat(root); err != nil {
			return nil, anchoredErr("create anchored file: open nofollow root", err)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			return nil, anchoredErr("create anchored file: mkdir parent", err)
		}
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if s.br.on("nofollow-overwrite") {
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		f, err := os.OpenFile(full, flags, 0o600)
		if errors.Is(err, os.ErrExist) {
			return nil, status.Error(codes.AlreadyExists, "create anchored file: target already exists")
		}
		if err != nil {
			return nil, anchoredErr("create anchored file", err)
		}
		return f, nil
	}
	slash, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, anchoredErr("create anchored file: open nofollow root", err)
	}
	dir, err := openatNoFollow(slash, fromSlash(root), unix.O_PATH|unix.O_DIRECTORY, 0)
	unix.Close(slash)
	if err != nil {
		return nil, anchoredErr("create anchored file: open nofollow root", err)
	}
	parts := strings.Split(rel, "/")
	for _, comp := range parts[:len(parts)-1] {
		next, err := openatNoFollow(dir, comp, unix.O_PATH|unix.O_DIRECTORY, 0)
		if errors.Is(err, unix.ENOENT) {
			if merr := unix.Mkdirat(dir, comp, 0o750); merr != nil && !errors.Is(merr, unix.EEXIST) {
				unix.Close(dir)
				return nil, anchoredErr("create anchored file: mkdir parent", merr)
			}
			next, err = openatNoFollow(dir, comp, unix.O_PATH|unix.O_DIRECTORY, 0)
		}
		unix.Close(dir)
		if err != nil {
			return nil, anchoredErr("create anchored file: open parent", err)
		}
		dir = next
	}
	flags := uint64(unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY)
	if s.br.on("nofollow-overwrite") {
		flags = unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_NOCTTY
	}
	fd, err := openatNoFollow(dir, parts[len(parts)-1], flags, 0o600)
	unix.Close(dir)
	if errors.Is(err, unix.EEXIST) {
		return nil, status.Error(codes.AlreadyExists, "create anchored file: target already exists")
	}
	if err != nil {
		return nil, anchoredErr("create anchored file", err)
	}
	return os.NewFile(uintptr(fd), full), nil
}

// WriteRawNoFollow writes straight into the new file (no temp file); an abort leaves the partial file.
func (s *server) WriteRawNoFollow(stream pb.ContainerService_WriteRawNoFollowServer) error {
	var f *os.File
	var written int64
	defer func() {
		if f != nil {
			f.Close()
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
		if f == nil {
			if err := checkAnchored(chunk.GetRoot(), chunk.GetRelativePath()); err != nil {
				return status.Errorf(codes.InvalidArgument, "invalid anchored write path: %v", err)
			}
			if chunk.GetAbort() && !s.br.on("no-abort") {
				return status.Error(codes.Aborted, "anchored write aborted by sender")
			}
			if f, err = s.createAnchored(chunk.GetRoot(), chunk.GetRelativePath()); err != nil {
				f = nil
				return err
			}
		} else if chunk.GetRoot() != "" || chunk.GetRelativePath() != "" {
			return status.Error(codes.InvalidArgument, "invalid anchored write: path fields are only allowed in the first chunk")
		}
		if len(chunk.GetData()) > 0 {
			n, err := f.Write(chunk.GetData())
			written += int64(n)
			if err != nil {
				return status.Errorf(codes.Internal, "write: %v", err)
			}
		}
		if chunk.GetAbort() && !s.br.on("no-abort") {
			return status.Error(codes.Aborted, "anchored write aborted by sender")
		}
	}
	if f == nil {
		return status.Error(codes.InvalidArgument, "invalid anchored write path: first chunk must include root and relative_path")
	}
	err := f.Close()
	f = nil
	if err != nil {
		return status.Errorf(codes.Internal, "close: %v", err)
	}
	if s.br.on("writeraw-count") {
		written++
	}
	return stream.SendAndClose(&pb.WriteRawResponse{BytesWritten: written})
}
