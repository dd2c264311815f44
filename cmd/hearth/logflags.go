package main

import (
	"log/slog"
	"os"

	"github.com/spf13/pflag"

	"github.com/hearthdev/hearth/internal/logging"
)

// logFlags are the --log-format and --log-level of the commands that run until interrupted (server,
// provisioner start, proxy, agent).
type logFlags struct{ format, level string }

func addLogFlags(f *pflag.FlagSet) *logFlags {
	l := &logFlags{}
	f.StringVar(&l.format, "log-format", "text", "log format: text or json")
	f.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
	return l
}

// logger is the logger the flags ask for, on standard error.
func (l *logFlags) logger() (*slog.Logger, error) {
	log, err := logging.New(os.Stderr, l.format, l.level)
	if err != nil {
		return nil, usageError{err}
	}
	return log, nil
}
