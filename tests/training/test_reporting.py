"""Commands a signal handler sets: a SIGTERM (pause, cancel) that lands while the engine polls them
must not deadlock the worker (it then ignored every further SIGTERM until it was killed after the
grace period, with no checkpoint: the progress since the last one was lost)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Sends SIGTERM to itself at a chosen line of a function (the signal is handled right there, as a
# real one arriving at that moment would be); the handler prints and sets the stop request.
SIGNAL_AT = textwrap.dedent("""
    import inspect, os, signal, sys

    def signal_at(code, text):
        lines, first = inspect.getsourcelines(code)
        target = first + next(i for i, line in enumerate(lines) if text in line)
        sent = []

        def tracer(frame, event, _arg):
            if frame.f_code is code:
                if event == "line" and frame.f_lineno == target and not sent:
                    sent.append(1)
                    os.kill(os.getpid(), signal.SIGTERM)
                return tracer
            return tracer if event == "call" else None
        return tracer, sent
""")


def run_script(body: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SIGNAL_AT + textwrap.dedent(body)], capture_output=True, text=True,
                          timeout=20)


def test_a_stop_request_while_the_engine_polls_for_one_is_taken() -> None:
    done = run_script("""
        from spark_trainer.training.reporting import Commands, StopKind

        commands = Commands()
        signal.signal(signal.SIGTERM, lambda *_: commands.request_stop(StopKind.PAUSE))
        tracer, sent = signal_at(Commands.stop_requested.fget.__code__, "return self._stop")
        sys.settrace(tracer)
        commands.stop_requested  # the engine's poll, once per step
        sys.settrace(None)
        print(sent, commands.stop_requested.value)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[1]", "pause"]


def test_a_stop_during_start_up_ends_an_interruptible_phase_at_once_and_another_at_its_end() -> None:
    done = run_script("""
        import threading, time
        from spark_trainer.training.reporting import Commands, StopKind, StopRequested

        def term_soon():
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()

        for interruptible in (True, False):
            commands = Commands()

            def on_term(*_):  # as the worker's handler does
                commands.request_stop(StopKind.PAUSE)
                commands.interrupt_start_up()

            signal.signal(signal.SIGTERM, on_term)
            began, finished = time.monotonic(), False
            term_soon()
            try:
                with commands.start_up("loading the model", interruptible=interruptible):
                    time.sleep(1.5)  # a long blocking call (a sleep resumes after a handler that returns)
                    finished = True
                commands.started()
            except StopRequested as exc:
                print(interruptible, finished, exc.phase.replace(" ", "-"), time.monotonic() - began < 1.4)
        commands = Commands()
        with commands.start_up("preparing the data"):
            pass
        commands.started()
        commands.request_stop(StopKind.CANCEL)
        commands.interrupt_start_up()  # training runs: the loop takes the stop, nothing is raised
        print("training", commands.stop_requested.value)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["True False loading-the-model True", "False True loading-the-model False",
                                        "training cancel"]


def test_the_start_up_phase_and_its_progress_are_told_until_training_starts() -> None:
    from spark_trainer.training.reporting import Commands, start_up_progress

    start_up_progress("nobody is starting up")  # no engine starting here: nothing to tell, no error
    commands = Commands()
    assert commands.phase_text() == "starting up"  # the worker's imports, before the engine's first phase
    with commands.start_up("preparing the data"):
        assert commands.phase_text() == "preparing the data"
    with commands.start_up("loading the model"):
        start_up_progress("caching VAE latents 3/10 images")  # a recipe, which never sees Commands
        assert commands.phase_text() == "loading the model: caching VAE latents 3/10 images"
    with commands.start_up("starting the processes"):
        assert commands.phase_text() == "starting the processes"  # a new phase drops the last one's progress
    commands.started()
    start_up_progress("late")
    assert commands.phase_text() is None

    ranks = Commands()
    ranks.hand_to_ranks()  # the ranks start up in their own processes: this one cannot say how far they are
    assert ranks.phase_text() is None


def test_a_stop_a_library_wrapped_in_its_own_error_is_still_a_stop() -> None:
    """A cancel during diffusers' lazy import came out as "RuntimeError: Failed to import
    diffusers.models... (cancel requested during start-up (loading the model))": the run ended failed,
    with that chain for its error, instead of cancelled."""
    import pytest

    from spark_trainer.training.reporting import Commands, StopKind, StopRequested

    commands = Commands()
    with pytest.raises(StopRequested) as stopped:
        with commands.start_up("loading the model", interruptible=True):
            try:
                commands.request_stop(StopKind.CANCEL)
                commands.interrupt_start_up()  # as the SIGTERM handler does, inside the library's import
            except StopRequested as exc:
                raise RuntimeError(f"Failed to import diffusers.models.autoencoders: {exc}") from exc
    assert (stopped.value.kind, stopped.value.phase) == (StopKind.CANCEL, "loading the model")
    # Any other error of a phase is left as it is.
    with pytest.raises(ValueError, match="not a stop"):
        with Commands().start_up("preparing the data"):
            raise ValueError("not a stop")
