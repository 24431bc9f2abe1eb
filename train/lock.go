package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pcx-dev/pcx/internal/atomicfile"
)

// LockFile is the file in a run directory that a run holds locked while
// it owns the directory. The lock goes with the process however it ends
// (a killed run leaves the file, never the lock); the file holds the
// owner's process id, for messages.
const LockFile = ".pcx.lock"

// Errors about run directories; each is wrapped with the details.
var (
	// ErrBusy: another run owns the directory.
	ErrBusy = errors.New("run directory in use")
	// ErrRunExists: a new run was asked for in a directory that holds a run.
	ErrRunExists = errors.New("run directory holds a run")
)

// DirLock is a run directory owned by this process (Lock).
type DirLock struct {
	dir     string
	f       *os.File
	running bool // a Run is going on in the directory
	// Removed lists the temporary files of interrupted writes that
	// locking the directory removed.
	Removed []string
}

// locks are the run directories this process owns, by absolute path.
var locks struct {
	sync.Mutex
	held map[string]*DirLock
}

// Lock makes this process the owner of run directory dir, creating it if
// needed, until Unlock or the process's end: another Lock of dir, here or in
// another process, fails with ErrBusy until then. Where the system cannot
// lock files (not Linux, macOS or the BSDs) only this process is kept out.
// Lock then removes the temporaries that interrupted writes left in dir
// (listed in Removed): while dir is locked no other run writes there.
//
// Run locks its directory itself unless this process already owns it; a
// caller that writes into the directory before Run (a configuration file)
// takes the lock first.
func Lock(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	locks.Lock()
	defer locks.Unlock()
	if locks.held[abs] != nil {
		return nil, fmt.Errorf("%w: %s, by this process already", ErrBusy, dir)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the run directory: %w", err)
	}
	ok, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if !ok {
		owner := ownerOf(f)
		f.Close()
		return nil, fmt.Errorf("%w: %s, by another pcx run (%s); wait for it to end, or use another run directory", ErrBusy, dir, owner)
	}
	// The owner's process id, for the message above; the lock is what counts.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	l := &DirLock{dir: dir, f: f}
	if l.Removed, err = atomicfile.RemoveStale(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("removing the temporary files of interrupted writes in %s: %w", dir, err)
	}
	if locks.held == nil {
		locks.held = map[string]*DirLock{}
	}
	locks.held[abs] = l
	return l, nil
}

// ownerOf describes the process that holds a lock file, from the id it wrote.
func ownerOf(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return "process unknown"
	}
	return "process " + strconv.Itoa(pid)
}

// Unlock gives the directory up.
func (l *DirLock) Unlock() error {
	locks.Lock()
	defer locks.Unlock()
	if l.f == nil {
		return nil
	}
	for k, v := range locks.held {
		if v == l {
			delete(locks.held, k)
		}
	}
	err := l.f.Close() // closing the file releases the lock
	l.f = nil
	return err
}

// claim takes dir for a Run: the lock this process already holds (owned
// is false then), or a new one. A second Run in a directory while one is
// going on in this process is refused.
func claim(dir string) (l *DirLock, owned bool, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false, err
	}
	locks.Lock()
	l = locks.held[abs]
	if l != nil {
		defer locks.Unlock()
		if l.running {
			return nil, false, fmt.Errorf("%w: a run is already going on in %s", ErrBusy, dir)
		}
		l.running = true
		return l, false, nil
	}
	locks.Unlock()
	if l, err = Lock(dir); err != nil {
		return nil, false, err
	}
	locks.Lock()
	l.running = true
	locks.Unlock()
	return l, true, nil
}

// release ends a Run's claim on its directory.
func (l *DirLock) release(owned bool) {
	locks.Lock()
	l.running = false
	locks.Unlock()
	if owned {
		l.Unlock()
	}
}

// runFiles are the files of a run that mark a directory as holding one.
var runFiles = []string{LastFile, BestFile, MetricsJSONL, MetricsCSV}

// StartFresh readies dir for a new run. If dir holds a run (a checkpoint
// or metrics), it fails with ErrRunExists unless overwrite is set; with it,
// the run's files are removed, with the other files named (a
// configuration, figures), so that nothing of the old run is mixed with the
// new. Call it with dir locked (Lock); Run calls it for a run that does
// not resume.
func StartFresh(dir string, overwrite bool, others ...string) error {
	var found []string
	for _, name := range runFiles {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			found = append(found, name)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if len(found) == 0 {
		return nil
	}
	if !overwrite {
		return fmt.Errorf("%w: %s (%s); continue it with --resume, or replace it with --overwrite",
			ErrRunExists, dir, strings.Join(found, ", "))
	}
	for _, name := range append(append([]string(nil), runFiles...), others...) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replacing the run in %s: %w", dir, err)
		}
	}
	return nil
}
