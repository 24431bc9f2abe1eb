package train

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows how far a long task has come. On a terminal it draws a
// bar with the count, the rate and the time left. Elsewhere (a log file, a
// pipe) it writes a plain line each time another tenth of the work is done,
// provided PlainEvery has passed since the last line, so that a short task
// writes nothing and a long one writes at most ten lines. A nil *Progress,
// or one made with a nil writer, shows nothing; its methods do nothing.
//
// What Progress writes is for people watching a run; no result depends on
// it.
type Progress struct {
	pb          *progressbar.ProgressBar // on a terminal
	w           io.Writer                // plain lines, when not a terminal
	desc, unit  string
	total, done int
	start, last time.Time
	tenth       int // the tenths of total already reported
	now         func() time.Time
}

// PlainEvery is the least time between two plain progress lines.
const PlainEvery = 10 * time.Second

// NewProgress returns a Progress over total units of work (samples, say)
// described as desc ("epoch 3/12", "eval"). w is usually os.Stderr.
func NewProgress(w io.Writer, total int, desc string) *Progress {
	return newProgress(w, total, desc, "samples", time.Now)
}

func newProgress(w io.Writer, total int, desc, unit string, now func() time.Time) *Progress {
	if w == nil || total <= 0 {
		return nil
	}
	p := &Progress{desc: desc, unit: unit, total: total, now: now}
	p.start = now()
	p.last = p.start
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.pb = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
		)
		return p
	}
	p.w = w
	return p
}

// Set says n units are done (a resumed epoch starts part-way).
func (p *Progress) Set(n int) {
	if p == nil {
		return
	}
	p.done = min(max(n, 0), p.total)
	if p.pb != nil {
		_ = p.pb.Set(p.done)
		return
	}
	p.tenth = 10 * p.done / p.total
}

// Add says n more units are done.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	p.done = min(p.done+n, p.total)
	if p.pb != nil {
		_ = p.pb.Add(n)
		return
	}
	t := 10 * p.done / p.total
	if t <= p.tenth || t >= 10 {
		return // the end is the caller's own line (or Finish's bar)
	}
	p.tenth = t
	now := p.now()
	if now.Sub(p.last) < PlainEvery {
		return
	}
	p.last = now
	el := now.Sub(p.start)
	left := time.Duration(float64(el) * float64(p.total-p.done) / float64(p.done))
	fmt.Fprintf(p.w, "%s: %d%% (%d/%d %s), %s so far, about %s left\n",
		p.desc, 100*p.done/p.total, p.done, p.total, p.unit, Round(el), Round(left))
}

// Finish ends the bar (clearing it from the terminal).
func (p *Progress) Finish() {
	if p != nil && p.pb != nil {
		_ = p.pb.Finish()
	}
}

// Round rounds d for people: to the second, or to the minute past an hour.
func Round(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
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
