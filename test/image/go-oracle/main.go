// The oracle for test/image/contract.test.ts: Go's own encoding/json, os.FileMode.String() and os.Stat answer
// the cases our TypeScript reproduces. One JSON case per line on stdin, one JSON answer per line on stdout.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"strings"

	"memoh-test/go-oracle/workspace"
)

type request struct {
	Kind string `json:"kind"` // "json" | "mode" | "stat" | "trim"
	B64  string `json:"b64"`
	Mode uint32 `json:"mode"`
	Path string `json:"path"`
	Text string `json:"text"`
}

type answer struct {
	Error    string                       `json:"error,omitempty"`
	Contract *workspace.WorkspaceContract `json:"contract,omitempty"`
	Mode     string                       `json:"mode,omitempty"`
	IsDir    bool                         `json:"isDir,omitempty"`
	Text     *string                      `json:"text,omitempty"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<22)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			panic(err)
		}
		var a answer
		switch req.Kind {
		case "json":
			payload, err := base64.StdEncoding.DecodeString(req.B64)
			if err != nil {
				panic(err)
			}
			var c workspace.WorkspaceContract
			if err := json.Unmarshal(payload, &c); err != nil {
				a.Error = err.Error()
			} else {
				a.Contract = &c
			}
		case "mode":
			a.Mode = fs.FileMode(req.Mode).String()
		case "stat":
			info, err := os.Stat(req.Path)
			if err != nil {
				a.Error = err.Error()
			} else {
				a.Mode = info.Mode().String()
				a.IsDir = info.IsDir()
			}
		case "trim":
			t := strings.TrimSpace(req.Text)
			a.Text = &t
		}
		if err := out.Encode(a); err != nil {
			panic(err)
		}
	}
}
