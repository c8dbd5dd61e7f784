package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is a minimal HTTP/1.1 keep-alive client on one TCP connection: it
// writes a prepared request and reads the status line, Content-Length and
// body. Far cheaper than net/http, so on a 2-core machine the load generator
// takes as little CPU from the service as possible.
type conn struct {
	c    net.Conn
	r    *bufio.Reader
	wb   bytes.Buffer
	body []byte // the last answer's body, reused
}

func dial(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

func (c *conn) close() { _ = c.c.Close() }

// do sends method path with the headers and body, and returns the status and
// the body (valid until the next call: its buffer is reused).
func (c *conn) do(method, path string, header []string, body []byte) (int, []byte, error) {
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	c.wb.Reset()
	fmt.Fprintf(&c.wb, "%s %s HTTP/1.1\r\nHost: bench\r\n", method, path)
	for _, h := range header {
		c.wb.WriteString(h)
		c.wb.WriteString("\r\n")
	}
	if body != nil {
		fmt.Fprintf(&c.wb, "Content-Length: %d\r\n", len(body))
	}
	c.wb.WriteString("\r\n")
	c.wb.Write(body)
	if _, err := c.c.Write(c.wb.Bytes()); err != nil {
		return 0, nil, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 {
		return 0, nil, errors.New("short status line")
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, err
	}
	length := -1
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("Content-Length:")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(line[15:])))
		}
	}
	if length < 0 {
		return 0, nil, errors.New("no Content-Length")
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	buf := c.body[:length]
	_, err = io.ReadFull(c.r, buf)
	return status, buf, err
}
