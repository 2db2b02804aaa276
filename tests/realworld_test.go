package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Real programs nobody wrote for minisentry, compared with native runs:
//
//   - a driver of Debian's static SQLite library (package libsqlite3-dev),
//     programs/sqlite.c: 10,000 inserts in a transaction, queries, an
//     integrity check, with a rollback journal and in WAL mode (whose index
//     is a MAP_SHARED mapping of a file);
//   - gofmt, the Go toolchain's own static binary, formatting files of this
//     repository whose indentation was stripped, byte for byte as it does
//     natively, and listing and rewriting a directory of them.

const sqliteHint = "the SQLite test needs Debian's libsqlite3-dev (libsqlite3.a and sqlite3.h); tests/run installs it when it is missing"

var (
	sqliteOnce sync.Once
	sqliteBin  string
	sqliteErr  error
)

// sqliteProgram builds programs/sqlite.c against libsqlite3.a on first use.
// It is not in the programs table: it links with a library, and with glibc
// only (Debian's libsqlite3.a is built against it).
func sqliteProgram(t *testing.T) string {
	t.Helper()
	sqliteOnce.Do(func() {
		lib, err := exec.Command("gcc", "-print-file-name=libsqlite3.a").Output()
		if err != nil || !filepath.IsAbs(strings.TrimSpace(string(lib))) {
			sqliteErr = fmt.Errorf("libsqlite3.a not found (%v); %s", err, sqliteHint)
			return
		}
		bin := filepath.Join(workDir, "sqlite-glibc")
		src := filepath.Join(moduleRoot, "tests", "programs", "sqlite.c")
		args := []string{"-static", "-O1", "-Wall", "-o", bin, src, "-lsqlite3", "-lm"}
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			sqliteErr = fmt.Errorf("gcc %s: %v\n%s\n%s", strings.Join(args, " "), err, out, sqliteHint)
			return
		}
		sqliteBin = bin
	})
	if sqliteErr != nil {
		t.Fatal(sqliteErr)
	}
	return sqliteBin
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	bin := sqliteProgram(t)
	dir, prepare := freshDir(t)
	compare(t, bin, invocation{args: []string{dir}, prepare: prepare}, 0)
}

var (
	gofmtOnce sync.Once
	gofmtBin  string
	gofmtErr  error
)

// gofmtPath returns $(go env GOROOT)/bin/gofmt.
func gofmtPath(t *testing.T) string {
	t.Helper()
	gofmtOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			gofmtErr = fmt.Errorf("go env GOROOT: %v", err)
			return
		}
		gofmtBin = filepath.Join(strings.TrimSpace(string(out)), "bin", "gofmt")
		if _, err := os.Stat(gofmtBin); err != nil {
			gofmtErr = err
		}
	})
	if gofmtErr != nil {
		t.Fatal(gofmtErr)
	}
	return gofmtBin
}

// gofmtSources are the files of this repository that the gofmt tests
// format: a few large ones of different kinds.
var gofmtSources = []string{"mm/filecache.go", "usermem/addr.go", "kernel/task_run.go", "fs/root.go"}

// unformat returns src with every line's leading tabs removed, as
// sed 's/^\t*//' would: gofmt must put the indentation back.
func unformat(src []byte) []byte {
	lines := strings.SplitAfter(string(src), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return []byte(strings.Join(lines, ""))
}

// gofmtFixture returns a directory for gofmt to work in and a prepare
// function that fills it afresh: a stripped copy of each source as
// NAME.go, the pristine one as ok/NAME.go, and a file that is not Go.
func gofmtFixture(t *testing.T) (dir string, prepare func(t *testing.T)) {
	t.Helper()
	dir, fresh := freshDir(t)
	return dir, func(t *testing.T) {
		t.Helper()
		fresh(t)
		if err := os.Mkdir(filepath.Join(dir, "ok"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, src := range gofmtSources {
			data, err := os.ReadFile(filepath.Join(moduleRoot, src))
			if err != nil {
				t.Fatal(err)
			}
			name := fixtureName(src)
			if err := os.WriteFile(filepath.Join(dir, name), unformat(data), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "ok", name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not Go\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixtureName is the name gofmtFixture gives the stripped copy of src.
func fixtureName(src string) string {
	return strings.ReplaceAll(src, "/", "_")
}

func TestGofmt(t *testing.T) {
	t.Parallel()
	gofmt := gofmtPath(t)
	cases := []struct {
		name string
		args []string
		// stdin is a source to strip and feed on standard input.
		stdin string
		// restores is the source the output must be, byte for byte
		// (natively; under minisentry it must then be the same).
		restores string
	}{
		{name: "format", args: []string{fixtureName(gofmtSources[1])}, restores: gofmtSources[1]},
		{name: "format-large", args: []string{fixtureName(gofmtSources[0])}, restores: gofmtSources[0]},
		{name: "format-stdin", stdin: gofmtSources[2], restores: gofmtSources[2]},
		{name: "diff", args: []string{"-d", fixtureName(gofmtSources[3])}},
		{name: "list", args: []string{"-l", "."}},
		{name: "list-formatted", args: []string{"-s", "-l", "ok"}},
		{name: "rewrite", args: []string{"-w", "."}},
		{name: "syntax-error", args: []string{"README"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir, prepare := gofmtFixture(t)
			inv := invocation{args: c.args, dir: dir, prepare: prepare}
			if c.stdin != "" {
				data, err := os.ReadFile(filepath.Join(moduleRoot, c.stdin))
				if err != nil {
					t.Fatal(err)
				}
				inv.stdin = string(unformat(data))
			}
			noteInputs()
			native, nativeHow := runNative(t, gofmt, inv)
			nativeTree := treeOf(t, dir)
			if c.restores != "" {
				data, err := os.ReadFile(filepath.Join(moduleRoot, c.restores))
				if err != nil {
					t.Fatal(err)
				}
				if native.Stdout != string(data) || native.Status != 0 {
					t.Fatalf("natively, gofmt did not restore %s (%s): the test (or the toolchain) is wrong, not minisentry", c.restores, nativeHow)
				}
			}
			requireSentry(t)
			got, gotHow := runSentry(t, gofmt, inv)
			gotTree := treeOf(t, dir)
			if diff := cmp.Diff(native, got); diff != "" {
				t.Errorf("gofmt %s differs under minisentry (-native +minisentry):\n%s\nnatively: %s\nunder minisentry: %s\n%s",
					strings.Join(c.args, " "), diff, nativeHow, gotHow, straceTail(t, gofmt, inv))
			}
			if diff := cmp.Diff(nativeTree, gotTree); diff != "" {
				t.Errorf("gofmt %s leaves a different tree under minisentry (-native +minisentry):\n%s", strings.Join(c.args, " "), diff)
			}
		})
	}
}
