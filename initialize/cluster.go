package initialize

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/go-redis/redis/v8"
)

// NewClusterClient is a Cluster client on the seed addresses of o, whatever
// their number, that works with Redis 7. go-redis v8.11.5 cannot parse
// Redis 7's answers to CLUSTER SLOTS (a fourth element per node) and COMMAND
// (ten elements per command; redis/go-redis#2085, fixed only in v9): without
// the first it finds no node; without the second it knows no command's key
// position, so it sends every command to a random node (a MOVED redirect and
// a second round trip two times in three), splits a MULTI/EXEC across nodes,
// and downloads COMMAND (50 KB) again before each command. Each node client
// therefore answers those two itself, from a generic reply (redis7Compat).
func NewClusterClient(o *redis.UniversalOptions) *redis.ClusterClient {
	opt := o.Cluster()
	opt.NewClient = func(opt *redis.Options) *redis.Client {
		c := redis.NewClient(opt)
		c.AddHook(redis7Compat{c})
		return c
	}
	return redis.NewClusterClient(opt)
}

// redis7Compat is a hook on one Cluster node client: it answers the
// COMMAND and CLUSTER SLOTS commands the Cluster client sends to learn the
// cluster, by sending them as generic commands and reading the replies
// leniently. The typed command is never sent: its parser would fail.
type redis7Compat struct{ c *redis.Client }

// errAnswered stops the hook chain before the typed command is sent;
// AfterProcess clears it (the Cluster client reads the command's Err, not the
// chain's return value).
var errAnswered = errors.New("answered from a generic reply")

func (h redis7Compat) BeforeProcess(ctx context.Context, cmd redis.Cmder) (context.Context, error) {
	switch cmd := cmd.(type) {
	case *redis.CommandsInfoCmd:
		info, err := h.commands(ctx)
		if err != nil {
			return ctx, err
		}
		cmd.SetVal(info)
		return ctx, errAnswered
	case *redis.ClusterSlotsCmd:
		slots, err := h.slots(ctx)
		if err != nil {
			return ctx, err
		}
		cmd.SetVal(slots)
		return ctx, errAnswered
	}
	return ctx, nil
}

func (h redis7Compat) AfterProcess(_ context.Context, cmd redis.Cmder) error {
	if errors.Is(cmd.Err(), errAnswered) {
		cmd.SetErr(nil)
	}
	return nil
}

func (redis7Compat) BeforeProcessPipeline(ctx context.Context, _ []redis.Cmder) (context.Context, error) {
	return ctx, nil
}

func (redis7Compat) AfterProcessPipeline(context.Context, []redis.Cmder) error { return nil }

// commands reads COMMAND: per command its name, arity, flags, first key, last
// key, step, then (Redis 6+) ACL categories and (Redis 7+) more.
func (h redis7Compat) commands(ctx context.Context) (map[string]*redis.CommandInfo, error) {
	reply, err := h.c.Do(ctx, "command").Slice()
	if err != nil {
		return nil, err
	}
	out := make(map[string]*redis.CommandInfo, len(reply))
	for _, r := range reply {
		row, _ := r.([]any)
		if len(row) < 6 {
			return nil, fmt.Errorf("COMMAND: an entry with %d elements", len(row))
		}
		name, _ := row[0].(string)
		arity, _ := row[1].(int64)
		first, _ := row[3].(int64)
		last, _ := row[4].(int64)
		step, _ := row[5].(int64)
		info := &redis.CommandInfo{
			Name: strings.ToLower(name), Arity: int8(arity), //nolint:gosec // Redis's arities and key positions are small
			FirstKeyPos: int8(first), LastKeyPos: int8(last), StepCount: int8(step), //nolint:gosec
			Flags: strings2(row[2]),
		}
		if len(row) > 6 {
			info.ACLFlags = strings2(row[6])
		}
		info.ReadOnly = slices.Contains(info.Flags, "readonly")
		out[info.Name] = info
	}
	return out, nil
}

// strings2 is the strings of a generic array reply.
func strings2(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// slots reads CLUSTER SLOTS: per range its start, end, then per node its
// host, port, id and (Redis 7+) networking metadata.
func (h redis7Compat) slots(ctx context.Context) ([]redis.ClusterSlot, error) {
	reply, err := h.c.Do(ctx, "cluster", "slots").Slice()
	if err != nil {
		return nil, err
	}
	originHost, _, _ := net.SplitHostPort(h.c.Options().Addr)
	out := make([]redis.ClusterSlot, 0, len(reply))
	for _, r := range reply {
		row, _ := r.([]any)
		if len(row) < 3 {
			return nil, fmt.Errorf("CLUSTER SLOTS: a range with %d elements", len(row))
		}
		start, ok1 := row[0].(int64)
		end, ok2 := row[1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("CLUSTER SLOTS: bad range %v", row[:2])
		}
		slot := redis.ClusterSlot{Start: int(start), End: int(end)}
		for _, n := range row[2:] {
			node, _ := n.([]any)
			if len(node) < 2 {
				return nil, fmt.Errorf("CLUSTER SLOTS: a node with %d elements", len(node))
			}
			host, _ := node[0].(string)
			port, ok := node[1].(int64)
			if !ok {
				return nil, fmt.Errorf("CLUSTER SLOTS: bad port %v", node[1])
			}
			if host == "" || host == "?" { // the node does not know its own address
				host = originHost
			}
			id := ""
			if len(node) > 2 {
				id, _ = node[2].(string)
			}
			slot.Nodes = append(slot.Nodes, redis.ClusterNode{ID: id, Addr: net.JoinHostPort(host, strconv.FormatInt(port, 10))})
		}
		out = append(out, slot)
	}
	return out, nil
}
