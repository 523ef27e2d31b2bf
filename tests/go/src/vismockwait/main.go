// vismockwait waits for one vCenter task with govmomi's standard task waiter,
// object.NewTask(c, ref).WaitForResult, and prints what it saw as one JSON line.
//
// The tests build it against Debian's golang-github-vmware-govmomi-dev (GOPATH mode, no module
// download): GOPATH=tests/go:/usr/share/gocode GO111MODULE=off go build -o OUT vismockwait
//
//	vismockwait -u http://vismock:vismock@127.0.0.1:8080/sdk -task task-525 [-progress] [-timeout 60s]
//
// Output: {"task":..., "state":..., "result":..., "fault":..., "message":..., "progress":[...]}
// where fault is the vim25 fault type (a task's error, or the SOAP fault of a call) and progress
// the percentages the waiter reported while the task was queued or running (with -progress).
// Exit status: 0 the task succeeded, 1 it ended in error, 3 anything else (login, unknown task,
// timeout).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/progress"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type outcome struct {
	Task     string      `json:"task"`
	State    string      `json:"state,omitempty"`
	Result   interface{} `json:"result,omitempty"`
	Fault    string      `json:"fault,omitempty"`
	Message  string      `json:"message,omitempty"`
	Progress []float32   `json:"progress"`
}

// faultType is the vim25 name of the fault an error carries ("InvalidPowerState"), or "".
func faultType(err error) string {
	var fault interface{}
	switch e := err.(type) {
	case task.Error:
		fault = e.Fault()
	default:
		if soap.IsSoapFault(err) {
			fault = soap.ToSoapFault(err).VimFault()
		} else if soap.IsVimFault(err) {
			fault = soap.ToVimFault(err)
		}
	}
	if fault == nil {
		return ""
	}
	kind := reflect.TypeOf(fault)
	for kind.Kind() == reflect.Ptr {
		kind = kind.Elem()
	}
	return kind.Name()
}

// recorder is a progress sink keeping every percentage the waiter reports.
type recorder struct {
	reports chan progress.Report
	seen    []float32
	done    chan struct{}
}

func newRecorder() *recorder {
	r := &recorder{reports: make(chan progress.Report, 64), seen: []float32{}, done: make(chan struct{})}
	go func() {
		for report := range r.reports {
			r.seen = append(r.seen, report.Percentage())
		}
		close(r.done)
	}()
	return r
}

func (r *recorder) Sink() chan<- progress.Report { return r.reports }

func finish(result outcome, code int) {
	line, _ := json.Marshal(result)
	fmt.Println(string(line))
	os.Exit(code)
}

func main() {
	rawURL := flag.String("u", os.Getenv("GOVC_URL"), "the SDK URL with user and password")
	id := flag.String("task", "", "the Task's managed object id (task-525)")
	withProgress := flag.Bool("progress", false, "pass a progress sink to WaitForResult and report what it got")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	result := outcome{Task: *id, Progress: []float32{}}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	u, err := soap.ParseURL(*rawURL)
	if err != nil || u == nil || *id == "" {
		result.Message = fmt.Sprintf("usage: vismockwait -u URL -task ID (url %q: %v)", *rawURL, err)
		finish(result, 3)
	}
	client, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		result.Fault, result.Message = faultType(err), err.Error()
		finish(result, 3)
	}

	waited := object.NewTask(client.Client, types.ManagedObjectReference{Type: "Task", Value: *id})
	var info *types.TaskInfo
	if *withProgress {
		sink := newRecorder()
		info, err = waited.WaitForResult(ctx, sink)
		<-sink.done // WaitForResult closed the channel: every report is in
		result.Progress = sink.seen
	} else {
		info, err = waited.WaitForResult(ctx, nil)
	}
	if info != nil {
		result.State = string(info.State)
		result.Result = info.Result
	}
	code := 0
	if err != nil {
		result.Fault, result.Message = faultType(err), err.Error()
		code = 3
		if _, isTaskError := err.(task.Error); isTaskError {
			code = 1
		}
	}
	_ = client.Logout(context.Background()) // before os.Exit, which runs no deferred call
	finish(result, code)
}
