package pgembed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// ErrNoBinaries means no PostgreSQL server binaries were found. Its message names the package to
// install, because that is the one thing a user can do about it.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries (initdb, postgres) found on PATH or under /usr/lib/postgresql/*/bin: " +
	"install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql@15), " +
	"or point --postgres-url at an external PostgreSQL 13+")

// Binaries are the absolute paths of the server programs the embedded cluster needs.
type Binaries struct {
	InitDB   string
	Postgres string
}

// FindBinaries looks for initdb and postgres in dir when it is set, otherwise on PATH and then in the
// newest /usr/lib/postgresql/*/bin, which is where Debian installs them without putting them on PATH.
func FindBinaries(dir string) (Binaries, error) {
	if dir != "" {
		return binariesIn(dir)
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if pg, err := exec.LookPath("postgres"); err == nil {
			return Binaries{InitDB: initdb, Postgres: pg}, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: "15" sorts after "9.6" numerically, not lexically.
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if b, err := binariesIn(d); err == nil {
			return b, nil
		}
	}
	return Binaries{}, ErrNoBinaries
}

func binariesIn(dir string) (Binaries, error) {
	b := Binaries{InitDB: filepath.Join(dir, "initdb"), Postgres: filepath.Join(dir, "postgres")}
	for _, p := range []string{b.InitDB, b.Postgres} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return Binaries{}, fmt.Errorf("%w (looked in %s)", ErrNoBinaries, dir)
		}
	}
	return b, nil
}

func majorOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return 0
	}
	return v
}
