package main

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// knownBreaks lists every deliberate defect the v3 stand-in can be told to show, one behaviour each.
// Keep README.md's table in step with this map.
var knownBreaks = map[string]string{
	"no-listen":              "never listens on the socket; logs why, stays up STANDIN_NO_LISTEN_SECONDS (default 30) then exits 1",
	"wire-bridgepb-only":     "serves only bridgepb.ContainerService (mcpcontainer.* calls get UNIMPLEMENTED)",
	"wire-none":              "serves neither ContainerService name (every call gets UNIMPLEMENTED)",
	"no-reflection":          "does not register server reflection",
	"stat-notfound-code":     "Stat of a missing path returns INTERNAL instead of NOT_FOUND",
	"readfile-no-prefix":     "ReadFile lines carry no line-number prefix",
	"readfile-no-limit":      "ReadFile ignores the 200-line cap (n_lines <1 means all lines, >200 honoured)",
	"readfile-no-budget":     "ReadFile ignores the 5120-byte content budget",
	"readfile-no-truncate":   "ReadFile does not cut lines longer than 1000 code points",
	"writefile-mode":         "WriteFile creates files with mode 0644 instead of 0600",
	"listdir-unsorted":       "non-recursive ListDir returns entries in reverse name order",
	"mkdir-not-p":            "Mkdir behaves like plain mkdir (no parents, existing dir is an error)",
	"rename-no-parents":      "Rename does not create the parent of new_path first",
	"delete-nonrecursive-ok": "DeleteFile recursive=false on a non-empty directory succeeds (removes it all)",
	"readraw-chunk":          "ReadRaw streams 32 KiB chunks instead of 64 KiB",
	"writeraw-count":         "WriteRaw reports bytes_written one higher than written",
	"exec-exit-code":         "Exec always reports exit_code 0",
	"exec-stderr-as-stdout":  "pipe-mode Exec labels stderr output as STDOUT",
	"exec-no-timeout":        "pipe-mode Exec ignores timeout_seconds and the 30 s default",
	"exec-env-ignored":       "Exec ignores the env field",
	"exec-workdir-ignored":   "Exec ignores work_dir (always runs in /data)",
	"exec-stdin-ignored":     "Exec drops stdin_data of later messages (half-close still gives EOF)",
	"exec-no-exit-msg":       "Exec ends the call without the final EXIT message",
	"pty-no-term":            "PTY Exec does not set TERM=xterm-256color",
	"pty-no-resize":          "PTY Exec ignores resize (initial and later); always 80x24",
	"pty-half-close-kills":   "PTY Exec kills the session when the client half-closes",
	"no-path-append":         "PATH is not extended with :/opt/memoh/toolkit/bin",
	"no-template-seed":       "templates are not copied from /opt/memoh/templates into /data",
	"no-reaper":              "no PID-1 zombie-reaping loop",
	"sigterm-hang":           "SIGTERM is ignored (only SIGINT or SIGKILL stop it)",
}

type breakSet map[string]bool

func (b breakSet) on(name string) bool { return b[name] }

func (b breakSet) names() []string {
	out := make([]string, 0, len(b))
	for n := range b {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// breakFiles are the places a "standin-break" file is looked for, first found wins: next to the executable
// (/opt/memoh/standin-break in v3, where /opt/memoh is the host runtime dir), then the socket dir
// (/run/memoh, a host bind in both eras; v0.18 mounts only the bridge file at /opt/memoh/bridge).
func breakFiles() []string {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	if sock := os.Getenv("BRIDGE_SOCKET_PATH"); sock != "" {
		dirs = append(dirs, filepath.Dir(sock))
	}
	dirs = append(dirs, "/run/memoh")
	var out []string
	seen := map[string]bool{}
	for _, d := range dirs {
		p := filepath.Join(d, "standin-break")
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// loadBreaks reads STANDIN_BREAK (comma-separated names). When it is unset or empty, it falls back to the
// first line of the first "standin-break" file of breakFiles(). The value "none" means no breaks.
func loadBreaks() (breakSet, string) {
	raw, src := os.Getenv("STANDIN_BREAK"), "env STANDIN_BREAK"
	if strings.TrimSpace(raw) == "" {
		raw, src = "", ""
		for _, p := range breakFiles() {
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			if sc.Scan() {
				raw = sc.Text()
			}
			f.Close()
			src = "file " + p
			break
		}
	}
	set := breakSet{}
	for _, n := range strings.Split(raw, ",") {
		n = strings.TrimSpace(n)
		if n == "" || n == "none" {
			continue
		}
		if _, ok := eraBreaks()[n]; !ok {
			slog.Warn("stand-in: unknown break name ignored", "name", n, "source", src)
			continue
		}
		set[n] = true
	}
	return set, src
}

// crashCounter implements STANDIN_CRASH_AFTER=N: the first N ContainerService RPCs are served normally;
// when RPC number N+1 arrives the process exits with status 2 at once, without answering it.
type crashCounter struct {
	limit int64 // <0: disabled
	n     atomic.Int64
}

func newCrashCounter() *crashCounter {
	c := &crashCounter{limit: -1}
	if v := strings.TrimSpace(os.Getenv("STANDIN_CRASH_AFTER")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			c.limit = n
		} else {
			slog.Warn("stand-in: bad STANDIN_CRASH_AFTER ignored", "value", v)
		}
	}
	return c
}

func (c *crashCounter) tick(method string) {
	if c.limit < 0 {
		return
	}
	if n := c.n.Add(1); n > c.limit {
		slog.Error("stand-in: STANDIN_CRASH_AFTER reached, exiting abruptly", "limit", c.limit, "method", method)
		os.Exit(2)
	}
}
