"""envd's process service, played against ``docker exec`` in the sandbox's container.

Start (with streamed stdout/stderr, keepalives and an end event; every process that ends is a
run record), Connect (reattach to a running process by pid: a start event, the output produced
from then on, the end; any number of clients at once, each with its own queue of the process's
events), List, SendSignal, and the process's stdin when it was started with ``stdin``:
SendInput, StreamInput, CloseStdin. PTYs answer UNIMPLEMENTED.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from e2b.envd.process import process_pb
from protobuf import Oneof

from promptkiln.server.e2b.box import Box, BoxError
from promptkiln.server.e2b.box_proc import Proc
from promptkiln.server.e2b.envd_common import BOX_TO_CODE, Common

_SIGNALS = {9: "KILL", 15: "TERM"}

#: Keeps a process's run record: its exit code (None: the sandbox went away) and output.
_Record = Callable[[int | None, list[tuple[str, bytes]]], None]


class ProcessService(Common):
    def start(
        self, request: process_pb.StartRequest, ctx: Any
    ) -> Iterator[process_pb.StartResponse]:
        box, user = self.box(ctx)
        config = request.process or process_pb.ProcessConfig()
        if request.has_field("pty") and request.pty is not None:
            raise ConnectError(Code.UNIMPLEMENTED, "PTYs are not available on this server")
        try:
            proc = box.start_process(
                config.cmd,
                list(config.args),
                user=user,
                envs=dict(config.envs),
                cwd=config.cwd if config.has_field("cwd") else None,
                tag=request.tag if request.has_field("tag") else None,
                stdin=bool(request.stdin) if request.has_field("stdin") else False,
            )
        except BoxError as exc:
            raise ConnectError(BOX_TO_CODE[exc.kind], str(exc)) from exc
        script = " ".join([config.cmd, *config.args])
        for ev in _events(
            proc, proc.events, _interval(ctx), box.sandbox_id, self._recorder(box, script, proc)
        ):
            yield process_pb.StartResponse(event=ev)

    def connect(
        self, request: process_pb.ConnectRequest, ctx: Any
    ) -> Iterator[process_pb.ConnectResponse]:
        """Reattach to a running process: its start event, the output from now on, its end.
        A pid that is not running is NOT_FOUND (envd forgets a process once it ended)."""
        proc = self._proc(ctx, request.process)
        box, _ = self.box(ctx)
        listener = proc.subscribe()
        if listener is None:
            raise ConnectError(Code.NOT_FOUND, f"process with pid {proc.pid} not found")
        try:
            for ev in _events(proc, listener, _interval(ctx), box.sandbox_id, None):
                yield process_pb.ConnectResponse(event=ev)
        finally:
            proc.unsubscribe(listener)

    def _recorder(self, box: Box, script: str, proc: Proc) -> _Record:
        """Start's stream keeps the run record of its process (Connect's streams do not)."""

        def record(code: int | None, out: list[tuple[str, bytes]]) -> None:
            self.fleet.recorded(
                box.sandbox_id,
                "e2b-process",
                script,
                code,
                b"".join(v for k, v in out if k == "stdout").decode(errors="replace"),
                b"".join(v for k, v in out if k == "stderr").decode(errors="replace"),
                proc.started,
            )

        return record

    def list(self, request: process_pb.ListRequest, ctx: Any) -> process_pb.ListResponse:
        box, _ = self.box(ctx)
        return process_pb.ListResponse(
            processes=[
                process_pb.ProcessInfo(
                    pid=p.pid,
                    tag=p.tag,
                    config=process_pb.ProcessConfig(cmd=p.cmd, args=p.args, envs=p.envs, cwd=p.cwd),
                )
                for p in list(box.procs.values())
            ]
        )

    def _proc(self, ctx: Any, selector: Any) -> Proc:
        box, _ = self.box(ctx)
        pid = _pid(selector)
        proc = box.procs.get(pid)
        if proc is None:
            raise ConnectError(Code.NOT_FOUND, f"process with pid {pid} not found")
        return proc

    def _write(self, proc: Proc, data: Any) -> None:
        if not isinstance(data, Oneof) or data.field != "stdin":
            raise ConnectError(Code.UNIMPLEMENTED, "PTYs are not available on this server")
        if not proc.write(bytes(data.value)):
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"process {proc.pid} has no open stdin: start it with stdin=True",
            )

    def send_input(
        self, request: process_pb.SendInputRequest, ctx: Any
    ) -> process_pb.SendInputResponse:
        proc = self._proc(ctx, request.process)
        self._write(proc, request.input.input if request.input is not None else None)
        return process_pb.SendInputResponse()

    def stream_input(
        self, requests: Iterator[process_pb.StreamInputRequest], ctx: Any
    ) -> process_pb.StreamInputResponse:
        proc: Proc | None = None
        for request in requests:
            event = request.event
            if not isinstance(event, Oneof):
                continue
            if event.field == "start":
                proc = self._proc(ctx, event.value.process)
            elif event.field == "data":
                if proc is None:
                    raise ConnectError(Code.INVALID_ARGUMENT, "the stream's first event is start")
                self._write(proc, event.value.input.input if event.value.input else None)
        return process_pb.StreamInputResponse()

    def close_stdin(
        self, request: process_pb.CloseStdinRequest, ctx: Any
    ) -> process_pb.CloseStdinResponse:
        proc = self._proc(ctx, request.process)
        if not proc.close_stdin():
            raise ConnectError(
                Code.FAILED_PRECONDITION,
                f"process {proc.pid} has no open stdin: start it with stdin=True",
            )
        return process_pb.CloseStdinResponse()

    def send_signal(
        self, request: process_pb.SendSignalRequest, ctx: Any
    ) -> process_pb.SendSignalResponse:
        box, _ = self.box(ctx)
        pid = _pid(request.process)
        name = _SIGNALS.get(int(request.signal))
        if name is None:
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid signal: {request.signal}")
        if not box.signal(pid, name):
            raise ConnectError(Code.NOT_FOUND, f"process with pid {pid} not found")
        return process_pb.SendSignalResponse()


def _interval(ctx: Any) -> float:
    """Seconds between keepalives: the SDK's ``Keepalive-Ping-Interval`` header (envd's too)."""
    return float(ctx.request_headers.get("keepalive-ping-interval") or 50)


def _events(
    proc: Proc,
    source: queue.Queue[tuple[str, Any]],
    interval: float,
    sandbox_id: str,
    record: _Record | None,
) -> Iterator[process_pb.ProcessEvent]:
    """The ProcessEvents of one stream (Start's or a Connect's): start, data and keepalives,
    then end; when the sandbox goes away the stream breaks, as envd's connection would."""

    def event(**kw: Any) -> process_pb.ProcessEvent:
        ((name, value),) = kw.items()
        return process_pb.ProcessEvent(event=Oneof(name, value))  # type: ignore[arg-type]

    yield event(start=process_pb.ProcessEvent.StartEvent(pid=proc.pid))
    out: list[tuple[str, bytes]] = []
    while True:
        try:
            kind, value = source.get(timeout=interval)
        except queue.Empty:
            yield event(keepalive=process_pb.ProcessEvent.KeepAlive())
            continue
        if kind in ("stdout", "stderr"):
            if record is not None:
                out.append((kind, value))
            data = process_pb.ProcessEvent.DataEvent(output=Oneof(kind, value))  # type: ignore[arg-type]
            yield event(data=data)
        elif kind == "end":
            code = int(value)
            if record is not None:
                record(code, out)
            yield event(
                end=process_pb.ProcessEvent.EndEvent(
                    exit_code=code, exited=True, status=f"exit status {code}"
                )
            )
            return
        else:  # the sandbox is gone: envd's connection just drops
            if record is not None:
                record(None, [])
            raise ConnectError(
                Code.UNAVAILABLE,
                f"the connection to sandbox {sandbox_id} ended before the stream completed",
            )


def _pid(selector: Any) -> int:
    """The pid a ProcessSelector names (this envd selects by pid, not by tag)."""
    chosen = selector.selector if selector is not None else None
    if not isinstance(chosen, Oneof) or chosen.field != "pid":
        raise ConnectError(Code.INVALID_ARGUMENT, "this envd selects processes by pid")
    return int(chosen.value)
