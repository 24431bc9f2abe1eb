package train

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// bar is a progress bar over an epoch's steps, drawn only on a terminal.
type bar struct {
	pb    *progressbar.ProgressBar
	batch int
}

// newBar returns a bar of n steps of batch samples, done of them already
// done; it draws nothing unless w is a terminal.
func newBar(w io.Writer, n, done int, desc string, batch int) *bar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &bar{}
	}
	pb := progressbar.NewOptions(n*batch,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("samples"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	_ = pb.Set(done * batch)
	return &bar{pb: pb, batch: batch}
}

func (b *bar) add(steps int) {
	if b.pb != nil {
		_ = b.pb.Add(steps * b.batch)
	}
}

func (b *bar) finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}

// PeakRSSMB is the process's peak resident memory (VmHWM) in MB, 0 where
// /proc is not available.
func PeakRSSMB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb / 1024
		}
	}
	return 0
}
