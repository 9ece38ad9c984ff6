// memoh test world: STAND-IN for astral's static uv / uvx binaries (no real uv is reachable offline).
// Built with CGO_ENABLED=0, so it runs in glibc, musl and (arm64 build) arm64 images alike.
//
//	uv --version | -V | version | self version  -> "uv <version> (stand-in)"
//	uvx --version | -V                          -> "uvx <version> (stand-in)"
//	uv tool run [--version | TOOL ARGS...]      -> version line, or "uv <version> (stand-in): would run TOOL ARGS..."
//	uvx TOOL ARGS...                            -> same as uv tool run TOOL ARGS...
//	anything else                               -> "uv <version> (stand-in): would do: ARGS..."
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

var version = "0.0.0"

func isVersion(a string) bool { return a == "--version" || a == "-V" }

func main() {
	self := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if self == "uvx" {
		if len(args) > 0 && isVersion(args[0]) {
			fmt.Printf("uvx %s (stand-in)\n", version)
			return
		}
		args = append([]string{"tool", "run"}, args...)
	}
	switch {
	case len(args) == 0:
		fmt.Printf("uv %s (stand-in): an extremely fast Python package manager, here only a test double\n", version)
	case isVersion(args[0]) || args[0] == "version" || (len(args) > 1 && args[0] == "self" && args[1] == "version"):
		fmt.Printf("uv %s (stand-in)\n", version)
	case len(args) >= 2 && args[0] == "tool" && args[1] == "run":
		rest := args[2:]
		if len(rest) == 0 {
			fmt.Fprintf(os.Stderr, "uv %s (stand-in): tool run needs a command\n", version)
			os.Exit(2)
		}
		if isVersion(rest[0]) {
			fmt.Printf("uv %s (stand-in)\n", version)
			return
		}
		fmt.Printf("uv %s (stand-in): would run %s\n", version, strings.Join(rest, " "))
	default:
		fmt.Printf("uv %s (stand-in): would do: %s\n", version, strings.Join(args, " "))
	}
}
