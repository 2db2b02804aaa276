package main

import (
	"fmt"
	"os/exec"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
)

// sandboxFS opens the application's file system as the flags say, and
// returns it with the working directory the program starts in and the
// program's path, both in the sandbox's view.
//
// By default the root is the host's "/" and the working directory is
// minisentry's own (as the kernel reports it, every symlink resolved, as
// getcwd(2) will), so that `minisentry run -- ./prog` behaves like
// running ./prog; the program is found in minisentry's PATH. With --root
// DIR, the program sees DIR as "/" and starts in it; a program name
// without a slash is looked up in the PATH of the program's own
// environment, inside DIR.
func sandboxFS(f *runFlags, name string, env []string) (root *fs.Root, cwd, prog string, err error) {
	dir := f.root
	if dir == "" {
		dir = "/"
	}
	root, err = fs.OpenRoot(dir, f.readOnly)
	if err != nil {
		return nil, "", "", fmt.Errorf("--root: %w", err)
	}
	if f.root == "" {
		cwd, err = unix.Getwd()
		if err == nil {
			prog, err = exec.LookPath(name)
		}
	} else {
		cwd = "/"
		prog, err = lookPathIn(root, name, env)
	}
	if err != nil {
		root.Close()
		return nil, "", "", err
	}
	return root, cwd, prog, nil
}

// lookPathIn finds the executable name in root as a shell would: as is if
// it holds a slash, else in the directories of env's PATH.
func lookPathIn(root *fs.Root, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	var dirs string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			dirs = v
		}
	}
	for _, dir := range strings.Split(dirs, ":") {
		if dir == "" {
			dir = "."
		}
		p := path.Join("/", dir, name)
		st, err := root.Stat(p, true)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && root.Access(p, unix.X_OK, true, true) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in the PATH of the program's environment, under --root", name)
}
