package browser

import (
	"fmt"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
)

// consoleLog keeps what the browser reports as an error.
type consoleLog struct {
	api      string
	mu       sync.Mutex
	errs     []string
	ignored  []string
	provoked map[string]int // "status path": error answers the test asks for
}

// expect declares one error answer that the test provokes on purpose:
// Chrome logs it as a network error, once.
func (c *consoleLog) expect(status int, path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provoked == nil {
		c.provoked = map[string]int{}
	}
	c.provoked[fmt.Sprintf("%d %s", status, path)]++
}

// listen runs in the tab's message loop: it only records.
func (c *consoleLog) listen(ev any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Value != nil {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			c.errs = append(c.errs, fmt.Sprintf("console.%s(%s)", ev.Type, strings.Join(args, ", ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		c.errs = append(c.errs, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level != log.EntryLevelError {
			return
		}
		line := fmt.Sprintf("%s %s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
		if c.expected401(e) || c.wasProvoked(e) {
			c.ignored = append(c.ignored, line)
		} else {
			c.errs = append(c.errs, line)
		}
	}
}

// expected401 is the one browser log error a working page causes: Chrome
// logs every 4xx answer to a fetch as a network error, and a 401 is how the
// page learns that its in-memory access token expired (on a private route,
// before it refreshes and retries) or that there is no session to restore
// (the silent refresh on load, and the refresh of a revoked session). Only
// 401s, only from the network, only for those routes of this API.
func (c *consoleLog) expected401(e *log.Entry) bool {
	if e.Source != log.EntrySourceNetwork ||
		!strings.HasPrefix(e.Text, "Failed to load resource: the server responded with a status of 401 ") {
		return false
	}
	return e.URL == c.api+"/public/refresh" || strings.HasPrefix(e.URL, c.api+"/user/")
}

// wasProvoked consumes a declared error answer matching the network error e.
func (c *consoleLog) wasProvoked(e *log.Entry) bool {
	if e.Source != log.EntrySourceNetwork || !strings.HasPrefix(e.URL, c.api+"/") {
		return false
	}
	for key, n := range c.provoked {
		status, path, _ := strings.Cut(key, " ")
		if n > 0 && e.URL == c.api+path &&
			strings.HasPrefix(e.Text, "Failed to load resource: the server responded with a status of "+status+" ") {
			c.provoked[key]--
			return true
		}
	}
	return false
}

func (c *consoleLog) result() (errs, ignored []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...), append([]string(nil), c.ignored...)
}
