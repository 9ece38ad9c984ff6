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
	"no-path-append":         "PATH is not extended with :/opt/memoh/toolkit/bin",
	"no-template-seed":       "templates are not copied from /opt/memoh/templates into /data",
	"no-reaper":              "no PID-1 zombie-reaping loop",
	"sigterm-hang":           "SIGTERM is ignored (only SIGINT or SIGKILL stop it)",
}

// knownBreaksV018 is the same for the v0.18 binary: the shared start-up breaks plus one per v0.18 behaviour.
// Keep README.md's v0.18 table in step with this map.
var knownBreaksV018 = map[string]string{
	"no-listen":      knownBreaks["no-listen"],
	"wire-none":      "serves no ContainerService (every call gets UNIMPLEMENTED)",
	"no-reflection":  "does not register server reflection (neither v1 nor v1alpha)",
	"sigterm-hang":   knownBreaks["sigterm-hang"],
	"no-path-append": knownBreaks["no-path-append"],
	// Carried over from v3 unchanged (same behaviour in both eras).
	"stat-notfound-code":     knownBreaks["stat-notfound-code"],
	"mkdir-not-p":            knownBreaks["mkdir-not-p"],
	"rename-no-parents":      knownBreaks["rename-no-parents"],
	"delete-nonrecursive-ok": knownBreaks["delete-nonrecursive-ok"],
	"listdir-unsorted":       knownBreaks["listdir-unsorted"],
	"readraw-chunk":          "ReadRaw and ReadRawNoFollow stream 32 KiB chunks instead of 64 KiB",
	"writeraw-count":         "WriteRaw and WriteRawNoFollow report bytes_written one higher than written",
	"exec-exit-code":         knownBreaks["exec-exit-code"],
	"exec-no-exit-msg":       knownBreaks["exec-no-exit-msg"],
	"exec-stderr-as-stdout":  knownBreaks["exec-stderr-as-stdout"],
	"exec-env-ignored":       knownBreaks["exec-env-ignored"],
	"exec-workdir-ignored":   "Exec ignores work_dir (always runs in /data)",
	"exec-stdin-ignored":     "Exec drops all stdin_data (first and later messages; half-close still gives EOF)",
	"exec-no-timeout":        "pipe-mode Exec has no timeout at all (explicit, default 30 s)",
	"pty-no-term":            knownBreaks["pty-no-term"],
	"pty-no-resize":          knownBreaks["pty-no-resize"],
	// v0.18 behaviours.
	"reflection-v1alpha-only":     "reflection served only as grpc.reflection.v1alpha (no v1)",
	"msg-4mib":                    "grpc-go default message limits (4 MiB receive) instead of 16 MiB",
	"data-mkdir":                  "creates /data (0750) and seeds /opt/memoh/templates at start, as the seed did",
	"listen-fail-exit0":           "a listen failure exits 0 (seed) instead of 1",
	"tcp-any-addr":                "BRIDGE_TCP_ADDR accepts any host (e.g. 0.0.0.0:N) instead of exiting 1",
	"tls-no-client-cert":          "strict mTLS does not require a client certificate",
	"tls-no-uri-check":            "strict mTLS accepts a client leaf without the expected URI SAN (or without the ClientAuth EKU)",
	"sigterm-graceful":            "SIGTERM waits for in-flight RPCs (GracefulStop) instead of cutting them (Stop)",
	"readfile-numbered":           "ReadFile lines carry the seed's %6d<TAB> line-number prefix",
	"readfile-200":                "ReadFile default/maximum is 200 lines instead of 2000",
	"readfile-longline-uncounted": "a line of 1 MiB or more is not counted in total_lines",
	"writefile-in-place":          "WriteFile truncates in place (existing files keep their mode; symlinks are followed)",
	"writeraw-in-place":           "WriteRaw truncates the target in place with mode 0644 (seed) instead of temp file + rename, 0600",
	"writeraw-empty-ok":           "WriteRaw with zero messages succeeds with 0 bytes instead of INVALID_ARGUMENT",
	"no-abort":                    "WriteRaw/WriteRawNoFollow ignore abort=true: the data is committed and the call succeeds",
	"rename-internal":             "Rename of a missing source returns INTERNAL instead of NOT_FOUND",
	"listdir-no-paging":           "ListDir ignores offset/limit and leaves total_count/truncated unset",
	"listdir-no-collapse":         "ListDir ignores collapse_threshold",
	"listdir-no-max-entries":      "ListDir ignores max_entries",
	"listdir-preorder":            "recursive ListDir is in pre-order (a, a/x, a-b) instead of sorted by the whole relative path",
	"listdir-root-ok":             "recursive ListDir of a missing root succeeds with 0 entries instead of NOT_FOUND",
	"no-clean-env":                "Exec ignores clean_env (the inherited environment stays)",
	"no-unset-env":                "Exec ignores unset_env",
	"unset-env-no-wildcard":       "Exec's unset_env treats PREFIX* literally (no wildcard)",
	"exec-first-stdin-ignored":    "pipe-mode Exec drops the first message's stdin_data",
	"exec-workdir-cwd":            "a relative work_dir is taken relative to the bridge's cwd, not /data",
	"exec-negative-timeout-30s":   "a negative timeout_seconds gets the 30 s default instead of none",
	"exec-kill-shell-only":        "on timeout only the shell gets SIGKILL and the output pipes stay open (seed)",
	"exit-minus-one":              "a command killed by a signal reports exit_code -1 instead of 128+signal",
	"pty-no-timeout":              "PTY Exec has no 300 s default timeout",
	"pty-sh-c":                    "PTY Exec runs a bare command through /bin/sh -c instead of exec'ing it",
	"nofollow-follows":            "ReadRawNoFollow/WriteRawNoFollow follow symlinks (plain open)",
	"nofollow-overwrite":          "WriteRawNoFollow truncates an existing target instead of ALREADY_EXISTS",
	"tunnel-any-host":             "Tunnel dials non-loopback targets instead of PERMISSION_DENIED",
	"tunnel-no-ack":               "Tunnel sends no empty data frame when connected",
	"tunnel-no-close":             "Tunnel ends the stream on target EOF without a close frame",
	"reverse-http-off":            "the tools-proxy HTTP listener on 127.0.0.1:18732 is not started",
	"reverse-http-hop-headers":    "ReverseHTTP forwards hop-by-hop headers and Content-Length",
}

// breaksFor returns the break names this binary's era knows.
func breaksFor() map[string]string {
	if era == "v0.18" {
		return knownBreaksV018
	}
	return knownBreaks
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
		if _, ok := breaksFor()[n]; !ok {
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
