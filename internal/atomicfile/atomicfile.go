// Package atomicfile writes files so that readers see either the old file
// or the whole new one: checkpoints, exports and converted clouds.
//
// A write fills a temporary file next to its target, named
// ".<name>.tmp<digits>", and renames it over the target once it is whole.
// The package keeps the temporaries of writes in flight, so that they are
// removed when a write fails, panics or is cancelled, and, with
// RemoveOnSignal, when the process is interrupted. A temporary left by a
// process that was killed outright (SIGKILL, power loss) is found by IsTemp
// and removed by RemoveStale.
package atomicfile

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tempMark separates a target's name from the random digits in the names
// of its temporaries.
const tempMark = ".tmp"

// inFlight holds the temporaries of the writes in progress. Once closing is
// set (the process is ending on a signal), no new temporary is made.
var inFlight struct {
	sync.Mutex
	names   map[string]bool
	closing bool
}

// createTemp makes the temporary for a write into dir of base and records
// it as in flight, in one step, so that a signal cannot fall between them.
// It fails once the process is ending on a signal.
func createTemp(dir, base string) (*os.File, error) {
	inFlight.Lock()
	defer inFlight.Unlock()
	if inFlight.closing {
		return nil, errEnding
	}
	tmp, err := os.CreateTemp(dir, "."+base+tempMark+"*")
	if err != nil {
		return nil, err
	}
	if inFlight.names == nil {
		inFlight.names = map[string]bool{}
	}
	inFlight.names[tmp.Name()] = true
	return tmp, nil
}

func untrack(name string) {
	inFlight.Lock()
	delete(inFlight.names, name)
	inFlight.Unlock()
}

// removeInFlight removes every temporary in flight and stops new ones from
// being made; it returns with the registry locked, so that nothing is
// written any more.
func removeInFlight() {
	inFlight.Lock()
	inFlight.closing = true
	for name := range inFlight.names {
		os.Remove(name)
		delete(inFlight.names, name)
	}
}

// errEnding is returned by a write begun while the process is ending on a
// signal.
var errEnding = &os.PathError{Op: "write", Err: syscall.EINTR}

// Write writes a file so that readers see either the old file or the whole
// new one, never a part: write fills a temporary file in the same directory
// through a buffer, which is then flushed, synced to disk and renamed over
// path. If anything fails, or write panics, the temporary file is removed
// and path is left as it was. The new file has mode 0644.
func Write(path string, write func(io.Writer) error) error {
	return WriteContext(context.Background(), path, write)
}

// WriteContext is Write that stops when ctx is done: the writes write
// makes fail with ctx's error from then on, the temporary file is removed,
// and path is left as it was.
func WriteContext(ctx context.Context, path string, write func(io.Writer) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := createTemp(dir, base)
	if err != nil {
		return err
	}
	name := tmp.Name()
	done := false
	defer func() {
		if !done { // an error, or a panic on its way up
			tmp.Close()
			os.Remove(name)
		}
		untrack(name)
	}()
	bw := bufio.NewWriterSize(ctxWriter{ctx, tmp}, 256<<10)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(name, path); err != nil {
		return err
	}
	done = true
	// Make the rename itself durable; not every system can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ctxWriter fails its writes once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// IsTemp reports whether a file name (without its directory) has the form
// of the temporaries Write makes: ".<name>.tmp<digits>".
func IsTemp(name string) bool {
	if len(name) < 2 || name[0] != '.' {
		return false
	}
	i := strings.LastIndex(name, tempMark)
	if i < 2 { // the target's name must not be empty
		return false
	}
	digits := name[i+len(tempMark):]
	if digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RemoveStale removes from dir the regular files named as Write names its
// temporaries (IsTemp), except those of writes in flight in this process,
// and returns the names it removed. Call it only where no other process is
// writing into dir (a run directory its owner has locked): it cannot tell a
// temporary left by a killed process from one still being written.
func RemoveStale(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inFlight.Lock()
	defer inFlight.Unlock()
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if inFlight.names[p] {
			continue
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}

// The process-wide signal handler of RemoveOnSignal, shared by its callers.
var onSignal struct {
	sync.Mutex
	users int
	ch    chan os.Signal
}

// RemoveOnSignal makes an interrupt (SIGINT) or SIGTERM remove the
// temporaries of the writes in flight before it ends the process, as the
// signal would have, for a program that does not otherwise catch these
// signals. The returned function undoes it (for one caller: calls nest),
// after which the signals act as before. A program that stops cleanly on
// these signals itself (signal.NotifyContext) must not have it in effect
// at the same time, since both would see each signal.
func RemoveOnSignal() (stop func()) {
	onSignal.Lock()
	defer onSignal.Unlock()
	onSignal.users++
	if onSignal.users == 1 {
		ch := make(chan os.Signal, 1)
		for _, s := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
			if !signal.Ignored(s) { // a process started to ignore it goes on ignoring it
				signal.Notify(ch, s)
			}
		}
		onSignal.ch = ch
		go func() {
			s, ok := <-ch
			if !ok {
				return
			}
			removeInFlight() // keeps the registry locked: nothing new is written
			exitOn(s)
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			onSignal.Lock()
			defer onSignal.Unlock()
			onSignal.users--
			if onSignal.users == 0 {
				signal.Stop(onSignal.ch)
				close(onSignal.ch)
				onSignal.ch = nil
			}
		})
	}
}

// exitOn ends the process as signal s does by default: it raises s again
// with its default action, and exits with 128+s where that is not possible.
func exitOn(s os.Signal) {
	code := 130
	if s == syscall.SIGTERM {
		code = 143
	}
	signal.Reset(s)
	if p, err := os.FindProcess(os.Getpid()); err == nil && p.Signal(s) == nil {
		time.Sleep(time.Second) // the signal ends the process meanwhile
	}
	os.Exit(code)
}
