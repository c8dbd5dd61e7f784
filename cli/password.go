package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"go-jwt/utils"
)

// maxPasswordLine bounds what is read as one password from standard input.
const maxPasswordLine = 4096

// newHash reads the new password of name (standard input or the prompt),
// checks it against the rules of every new password and hashes it.
func (o *operator) newHash(ctx context.Context, name string) (string, error) {
	pw, err := o.password(name)
	if err != nil {
		return "", err
	}
	if err := utils.ValidPassword(pw); err != nil {
		return "", err
	}
	return o.hasher.Hash(ctx, pw)
}

// password is the first line of standard input with --password-stdin;
// otherwise, on a terminal, typed twice without echo.
func (o *operator) password(name string) (string, error) {
	if o.c.passwordStdin {
		line, err := bufio.NewReaderSize(io.LimitReader(o.env.Stdin, maxPasswordLine), maxPasswordLine).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if pw == "" {
			return "", errors.New("--password-stdin: standard input holds no password")
		}
		return pw, nil
	}
	f, ok := o.env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) { //nolint:gosec // a file descriptor fits an int
		return "", errors.New("no password: pass --password-stdin and send it on standard input, or run on a terminal to be prompted")
	}
	first, err := prompt(f, o.env.Stderr, "New password for "+name+": ")
	if err != nil {
		return "", err
	}
	again, err := prompt(f, o.env.Stderr, "Again: ")
	if err != nil {
		return "", err
	}
	if first != again {
		return "", errors.New("the two passwords differ")
	}
	return first, nil
}

// prompt asks on w and reads one line from the terminal f without echo.
func prompt(f *os.File, w io.Writer, text string) (string, error) {
	_, _ = fmt.Fprint(w, text)
	b, err := term.ReadPassword(int(f.Fd())) //nolint:gosec // a file descriptor fits an int
	_, _ = fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(b), nil
}
