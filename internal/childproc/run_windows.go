package childproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Run starts the child and returns its exit code, passed through as
// Windows reports it. err is non-nil only when the child could not be
// started; the code is then 127 (ErrCommandNotFound), 126
// (ErrNotExecutable, a bad working directory) or 1.
//
// The child runs in a job object that kills everything in it when its last
// handle closes, and only this process holds that handle: when Sentinel
// ends, by any means, the child and every process it started end with it.
// The child is created suspended and resumed once it is in the job, so not
// even its first grandchild escapes.
//
// Ctrl-C and Ctrl-Break reach the child from the console itself (the console
// sends them to every process attached to it); Sentinel only catches them,
// so it does not die before the child, and keeps waiting. When ctx is
// cancelled the whole job is terminated (Windows has no SIGTERM to ask with
// first), and Run returns 1.
func Run(ctx context.Context, opts Options) (int, error) {
	cmd, log, _, code, err := prepare(ctx, opts)
	if err != nil {
		return code, err
	}
	job, err := newKillOnCloseJob()
	if err != nil {
		return 1, fmt.Errorf("start %q: create a job object for it: %w", opts.Path, err)
	}
	// Closing the last handle kills whatever is still in the job.
	defer func() { _ = windows.CloseHandle(job) }()

	sigCh := make(chan os.Signal, 4)
	signal.Notify(sigCh, os.Interrupt)
	defer signal.Stop(sigCh)

	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_SUSPENDED}
	if err := cmd.Start(); err != nil {
		return startFailure(opts, err)
	}
	child := cmd.Process
	if err := assignToJob(job, child.Pid); err != nil {
		_ = child.Kill()
		_ = cmd.Wait()
		return 1, fmt.Errorf("start %q: put it in a job object: %w", opts.Path, err)
	}
	if err := resumeThreads(child.Pid); err != nil {
		_ = windows.TerminateJobObject(job, 1)
		_ = cmd.Wait()
		return 1, fmt.Errorf("start %q: resume it: %w", opts.Path, err)
	}
	log.Debug("child started", "path", opts.Path, "pid", child.Pid)

	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	ctxDone := ctx.Done()
	for {
		select {
		case <-done:
			return exitCode(cmd.ProcessState), nil
		case <-sigCh:
			log.Debug("console interrupt: the child has its own copy; waiting for it")
		case <-ctxDone:
			ctxDone = nil
			log.Debug("context done, ending the child's job", "cause", context.Cause(ctx))
			if err := windows.TerminateJobObject(job, 1); err != nil {
				log.Warn("end the child's job", "error", err)
			}
		}
	}
}

// newKillOnCloseJob creates a job object whose processes are killed when
// its last handle closes.
func newKillOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, err
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{
			LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
		},
	}
	// The Windows API takes the structure by address and size.
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil { //nolint:gosec // G103
		_ = windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
}

func assignToJob(job windows.Handle, pid int) error {
	proc, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return err
	}
	defer func() { _ = windows.CloseHandle(proc) }()
	return windows.AssignProcessToJobObject(job, proc)
}

// resumeThreads resumes the threads of a process created suspended (its
// main thread; os/exec does not hand out the thread handle).
func resumeThreads(pid int) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return err
	}
	defer func() { _ = windows.CloseHandle(snap) }()
	entry := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &entry); err == nil; err = windows.Thread32Next(snap, &entry) {
		if entry.OwnerProcessID != uint32(pid) {
			continue
		}
		thread, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, entry.ThreadID)
		if err != nil {
			return err
		}
		_, err = windows.ResumeThread(thread)
		_ = windows.CloseHandle(thread)
		if err != nil {
			return err
		}
		resumed++
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return err
	}
	if resumed == 0 {
		return fmt.Errorf("no thread of process %d found", pid)
	}
	return nil
}

// Start failures as Windows reports them (see startFailure and exitCode in
// run.go).
const (
	permissionHint = "cannot be run (access denied); check its permissions"
	badFormatHint  = "is not a program Windows can run; use a .exe built for this platform, or run a script through its interpreter"
)

// errBadFormat is the start error for a file Windows cannot run.
var errBadFormat error = windows.ERROR_BAD_EXE_FORMAT

// killedBy: Windows has no signals; a killed process has an exit code.
func killedBy(*os.ProcessState) (int, bool) { return 0, false }
