package middleware

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"go-jwt/response"
)

// LogHandler is the service's slog handler: slog's own JSON handler (JSON
// true) or text handler for every line logged through slog (security
// events, errors), written to events; and beside it the access log's own
// path: AccessLog hands it each request's fields, and it formats the line
// in the same format as slog would, without allocating, and writes it to
// access (which may buffer: logbuf.Writer).
type LogHandler struct {
	slog.Handler
	json   bool
	access io.Writer
	second atomic.Pointer[formattedSecond]
}

// formattedSecond is the current second, formatted once: the date and time
// before the fraction, and the zone after it.
type formattedSecond struct {
	unix   int64
	loc    *time.Location
	prefix [19]byte // 2006-01-02T15:04:05
	zone   string   // Z or -07:00
}

// appendTime appends t as time.RFC3339Nano would (slog's JSON time), from
// the second formatted once.
func (h *LogHandler) appendTime(b []byte, t time.Time) []byte {
	f := h.second.Load()
	if f == nil || f.unix != t.Unix() || f.loc != t.Location() {
		f = &formattedSecond{unix: t.Unix(), loc: t.Location()}
		full := t.Truncate(time.Second).AppendFormat(nil, time.RFC3339)
		copy(f.prefix[:], full)
		f.zone = string(full[len(f.prefix):])
		h.second.Store(f)
	}
	b = append(b, f.prefix[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, f.zone...)
}

// NewLogHandler returns the handler; events and access may be one writer.
func NewLogHandler(json bool, events, access io.Writer) *LogHandler {
	var h slog.Handler = slog.NewTextHandler(events, nil)
	if json {
		h = slog.NewJSONHandler(events, nil)
	}
	return &LogHandler{Handler: h, json: json, access: access}
}

// accessEntry is one access log line.
type accessEntry struct {
	time                          time.Time
	method, route, ip, id, reason string
	status                        int
	latency                       time.Duration
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// write formats e as slog's JSON handler would the record msg "request"
// with the attributes method, route, status, latency, ip, request_id and
// reason (when set), and writes it as one Write.
func (h *LogHandler) write(e *accessEntry) {
	bp := linePool.Get().(*[]byte)
	b := (*bp)[:0]
	{
		b = append(b, `{"time":"`...)
		b = h.appendTime(b, e.time)
		b = append(b, `","level":"INFO","msg":"request","method":`...)
		b = appendJSONString(b, e.method)
		b = append(b, `,"route":`...)
		b = appendJSONString(b, e.route)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(e.status), 10)
		b = append(b, `,"latency":`...)
		b = strconv.AppendInt(b, int64(e.latency), 10)
		b = append(b, `,"ip":`...)
		b = appendJSONString(b, e.ip)
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, e.id)
		if e.reason != "" {
			b = append(b, `,"reason":`...)
			b = appendJSONString(b, e.reason)
		}
		b = append(b, "}\n"...)
	}
	_, _ = h.access.Write(b)
	*bp = b
	linePool.Put(bp)
}

// AccessLog writes one line per request: method, route template, status,
// latency, client IP, request id and, for failures, the reason. It never
// logs headers, the query string or bodies: they may hold tokens and
// passwords. With proxies (TRUSTED_PROXIES set) the client IP is gin's
// ClientIP, from X-Forwarded-For; without, it is the peer's address, which
// is what ClientIP would answer, read without its parsing.
//
// The same measurement goes to o when it is not nil (see observe): the
// metrics and the log line agree on every request's route, status and
// latency, and the clock is read twice a request, not four times (a reading
// of both clocks was 13 % of ping's time in the router's benchmark). The
// line's time is the end of the request: its start (wall clock) plus its
// latency (monotonic).
//
// On the service's own handler in JSON (LogHandler) the line is formatted
// without allocating; otherwise it is logged through slog.
func AccessLog(log *slog.Logger, proxies bool, o Observer) gin.HandlerFunc {
	fast, _ := log.Handler().(*LogHandler)
	if fast != nil && !fast.json {
		fast = nil
	}
	return func(c *gin.Context) {
		// The id is read before the handler answers: net/http clones the
		// answer's header map when it is asked for it between the answer's
		// write and the flush that sends it (response.RequestID).
		id := response.RequestID(c)
		start := time.Now()
		c.Next()
		latency := time.Since(start)
		e := accessEntry{time: start.Add(latency), latency: latency, method: c.Request.Method, route: c.FullPath(), status: c.Writer.Status(), id: id}
		if e.route == "" {
			e.route = "unmatched"
		}
		if proxies {
			e.ip = c.ClientIP()
		} else {
			e.ip = c.RemoteIP()
		}
		last := c.Errors.Last()
		if last != nil {
			e.reason = last.Err.Error()
		}
		if o != nil {
			observe(o, &e, last)
		}
		if fast != nil {
			fast.write(&e)
			return
		}
		attrs := []slog.Attr{
			slog.String("method", e.method),
			slog.String("route", e.route),
			slog.Int("status", e.status),
			slog.Duration("latency", e.latency),
			slog.String("ip", e.ip),
			slog.String("request_id", e.id),
		}
		if e.reason != "" {
			attrs = append(attrs, slog.String("reason", e.reason))
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
	}
}

// safe reports whether an ASCII byte stands for itself in a JSON string
// (slog's safeSet).
func safe(b byte) bool { return b >= 0x20 && b != '"' && b != '\\' && b < utf8.RuneSelf }

const hexDigits = "0123456789abcdef"

// plain marks the bytes that stand for themselves in a JSON string: the
// safe ASCII ones (multi-byte UTF-8 takes the careful path).
var plain = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = safe(byte(c))
	}
	return t
}()

// appendJSONString appends s quoted as slog's JSON handler does. The fields
// of an access line are plain ASCII almost always: they are copied at once
// after a scan of the table.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	i := 0
	for i < len(s) && plain[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	return appendJSONTail(b, s, i)
}

// appendJSONTail appends the rest of s from its first byte that is not
// plain (s[:i] is), escaped, and the closing quote.
func appendJSONTail(b []byte, s string, i int) []byte {
	start := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if safe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
