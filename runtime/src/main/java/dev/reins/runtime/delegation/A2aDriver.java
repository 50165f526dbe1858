package dev.reins.runtime.delegation;

import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.runtime.delegation.A2aClient.A2aException;
import dev.reins.runtime.delegation.A2aClient.Peer;
import dev.reins.runtime.delegation.A2aClient.RemoteTask;
import dev.reins.runtime.delegation.A2aClient.StreamEvent;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A delegation to an A2A agent: read its card, send the message once ({@code SendMessage} with
 * {@code returnImmediately}), report the task id at once (the entity journals it), then watch the
 * task: by {@code SubscribeToTask} when the agent streams (its end is seen as soon as the agent
 * publishes it), else by {@code GetTask} with backoff. A cancel is {@code CancelTask}.
 *
 * <p>No duplicate remote work: the message and context ids are derived from the delegation id.
 * A driver created with a journaled task id re-attaches to that task and never sends. A driver
 * created without one may follow a crash between sending and journaling: before sending, it asks a
 * v1.0 agent for the tasks of the delegation's context ({@code ListTasks}) and adopts the one it
 * finds. (A v0.3 agent cannot list tasks; there the send is repeated with the same message id,
 * which an agent that de-duplicates messages recognises; the SDK's does not.)
 *
 * <p>Fail closed: an error before the task exists ends the delegation {@code failed} with the
 * reason (a send is never retried: the agent may have acted on it). While watching a known task,
 * transient errors (connection refused, HTTP 5xx, a broken stream, a slow answer) are retried with
 * backoff, bounded by the delegation's deadline, which the entity enforces.
 */
public final class A2aDriver implements DelegationDriver {
  private static final Logger log = LoggerFactory.getLogger(A2aDriver.class);

  private final A2aClient client;
  private final Clock clock;

  public A2aDriver(A2aClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
  }

  public static A2aDriver create(ActorSystem<?> system, Clock clock) {
    return new A2aDriver(new A2aClient(system, A2aSettings.fromConfig(system.settings().config())), clock);
  }

  /** The message id of a delegation's send: the same on every attempt, so an agent can recognise a repeat. */
  public static String messageId(String delegationId) {
    return UUID.nameUUIDFromBytes(("reins-a2a-message:" + delegationId).getBytes(StandardCharsets.UTF_8)).toString();
  }

  /** The context id of a delegation's task: how a restarted driver finds a task it sent but did not journal. */
  public static String contextId(String delegationId) {
    return UUID.nameUUIDFromBytes(("reins-a2a-context:" + delegationId).getBytes(StandardCharsets.UTF_8)).toString();
  }

  @Override
  public Behavior<Command> create(DelegationState state, ActorRef<Report> reportTo) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Run(ctx, timers, state, reportTo)));
  }

  // ---- the driver's own messages ------------------------------------------------------------------

  private record CardRead(Peer peer, Throwable error) implements Command {}

  private record Found(String taskId, Throwable error) implements Command {}

  private record Sent(RemoteTask task, Throwable error) implements Command {}

  private record Streamed(StreamEvent event, long stream) implements Command {}

  private record StreamEnded(Throwable error, long stream) implements Command {}

  private record Polled(RemoteTask task, Throwable error) implements Command {}

  private record CancelAnswered(RemoteTask task, Throwable error) implements Command {}

  private enum Retry implements Command { CARD, FIND, WATCH, CANCEL }

  private record CancelWaitOver() implements Command {}

  private final class Run extends AbstractBehavior<Command> {
    private final TimerScheduler<Command> timers;
    private final DelegationState state;
    private final DelegationTarget.A2a target;
    private final ActorRef<Report> reportTo;
    private final Materializer mat;
    private Peer peer;
    private String taskId;
    private boolean sending;
    /** Looking for a task this delegation may have sent before a restart. */
    private boolean finding;
    /** The send that got no answer: the task it may have made is looked for before failing. */
    private A2aException lostSend;
    private boolean done;
    private UniqueKillSwitch stream;
    private long streamNo;
    private Duration backoff;
    private int transientErrors;
    private String lastState;
    /**
     * The task as this subscription has seen it: the snapshot that opens the stream, then each
     * artifact update. With it, the end of the task needs no further call to read its result.
     */
    private java.util.Map<String, A2aClient.Artifact> streamed;
    // cancel
    private boolean cancelling;
    private boolean cancelIssued;
    private boolean cancelReplied;
    private String cancelProblem;

    Run(ActorContext<Command> ctx, TimerScheduler<Command> timers, DelegationState state, ActorRef<Report> reportTo) {
      super(ctx);
      this.timers = timers;
      this.state = state;
      this.target = (DelegationTarget.A2a) state.spec().target();
      this.reportTo = reportTo;
      this.mat = Materializer.matFromSystem(ctx.getSystem());
      this.taskId = state.remoteId();
      this.lastState = state.remoteState();
      this.backoff = settings().pollMin();
      readCard();
    }

    private A2aSettings settings() {
      return client.settings();
    }

    @Override
    public Receive<Command> createReceive() {
      return newReceiveBuilder()
          .onMessage(CardRead.class, this::onCard)
          .onMessage(Found.class, this::onFound)
          .onMessage(Sent.class, this::onSent)
          .onMessage(Streamed.class, this::onStreamed)
          .onMessage(StreamEnded.class, this::onStreamEnded)
          .onMessage(Polled.class, this::onPolled)
          .onMessage(Retry.class, this::onRetry)
          .onMessage(CancelRemote.class, this::onCancelRemote)
          .onMessage(CancelAnswered.class, this::onCancelAnswered)
          .onMessage(CancelWaitOver.class, m -> {
            replyCancel(false, "the agent did not confirm the cancel in time" + (cancelProblem == null ? "" : " (" + cancelProblem + ")"));
            return this;
          })
          .onSignal(PostStop.class, s -> {
            stopStream();
            return this;
          })
          .build();
    }

    // ---- the card and the send ------------------------------------------------------------------

    private void readCard() {
      getContext().pipeToSelf(client.card(target.url(), requestTimeout()), CardRead::new);
    }

    private Behavior<Command> onCard(CardRead m) {
      if (done) {
        return this;
      }
      if (m.error() != null) {
        A2aException e = A2aClient.classify(m.error(), "the agent card of " + target.url());
        if (taskId != null && e.isTransient()) {
          // re-attaching to a task that exists: the agent may be back soon (a cancel's own bound ends the wait)
          return retryLater(Retry.CARD, e);
        }
        if (cancelling) {
          replyCancel(taskId == null, "the agent card could not be read: " + e.getMessage());
          return this;
        }
        return fail(e.reason(), e.getMessage());
      }
      peer = m.peer();
      transientErrors = 0;
      if (taskId != null) {
        if (cancelling) {
          issueCancel();
        }
        watch();
      } else if (cancelling) {
        replyCancel(true, "nothing had been sent to the agent");
      } else {
        find();
      }
      return this;
    }

    private void find() {
      finding = true;
      getContext().pipeToSelf(client.findTask(peer, contextId(state.delegationId()), requestTimeout()), Found::new);
    }

    private Behavior<Command> sendFailed(A2aException e) {
      if (cancelling) {
        boolean nothing = !e.isTransient(); // an answer that refused the send: no task exists
        replyCancel(nothing, nothing ? "the send failed, so there was nothing to cancel: " + e.getMessage()
            : "the send had no answer; a task the agent may have made was not found: " + e.getMessage());
        return this;
      }
      return fail(e.reason(), e.getMessage()); // never sent again: the agent may have acted on it
    }

    private Behavior<Command> onFound(Found m) {
      finding = false;
      if (done) {
        return this;
      }
      if (m.error() != null && lostSend != null) {
        A2aException e = A2aClient.classify(m.error(), "ListTasks at " + peer.rpcUrl());
        return e.isTransient() && !cancelling ? retryLater(Retry.FIND, e) : sendFailed(lostSend);
      }
      if (m.error() == null && m.taskId() == null && lostSend != null) {
        return sendFailed(lostSend);
      }
      if (m.error() != null) {
        A2aException e = A2aClient.classify(m.error(), "ListTasks at " + peer.rpcUrl());
        if (e.isTransient() && !cancelling) {
          return retryLater(Retry.FIND, e); // not knowing whether a task exists, do not send yet
        }
        // an agent that cannot list tasks (method not found, unsupported): nothing to find
      } else if (m.taskId() != null) {
        log.info("delegation {}: adopting task {} the agent already has for this delegation (sent before a restart)",
            state.delegationId(), m.taskId());
        taskId = m.taskId();
        reportTo.tell(new Started(taskId, lastState));
        if (cancelling) {
          issueCancel();
        }
        watch();
        return this;
      }
      if (cancelling) {
        replyCancel(true, "nothing had been sent to the agent");
        return this;
      }
      sending = true;
      DelegationTarget.Message msg = target.message();
      getContext().pipeToSelf(client.send(peer, messageId(state.delegationId()), contextId(state.delegationId()),
          msg == null ? null : msg.text(), msg == null ? null : msg.data(), requestTimeout()), Sent::new);
      return this;
    }

    private Behavior<Command> onSent(Sent m) {
      sending = false;
      if (done) {
        return this;
      }
      if (m.error() != null) {
        A2aException e = A2aClient.classify(m.error(), peer.version().send + " at " + peer.rpcUrl());
        if (e.isTransient() && peer.version() == A2aClient.Version.V1_0) {
          // no answer (a timeout, a reset connection): the agent may have made the task anyway;
          // look for it by the delegation's context before giving up, never send again
          lostSend = e;
          find();
          return this;
        }
        return sendFailed(e);
      }
      RemoteTask t = m.task();
      taskId = t.id();
      lastState = t.state();
      reportTo.tell(new Started(taskId, t.state()));
      if (t.terminal()) {
        return finish(t);
      }
      if (cancelling) {
        issueCancel();
      }
      watch();
      return this;
    }

    // ---- watching the task --------------------------------------------------------------------------

    private void watch() {
      if (done) {
        return;
      }
      if (peer.streaming()) {
        stopStream();
        streamed = null;
        long no = ++streamNo;
        ActorRef<Command> self = getContext().getSelf();
        Pair<UniqueKillSwitch, CompletionStage<Done>> run = client.subscribe(peer, taskId, requestTimeout())
            .viaMat(KillSwitches.single(), Keep.right())
            .toMat(Sink.foreach(e -> self.tell(new Streamed(e, no))), Keep.both())
            .run(mat);
        stream = run.first();
        getContext().pipeToSelf(run.second(), (ok, error) -> new StreamEnded(error, no));
      } else {
        poll();
      }
    }

    private void poll() {
      getContext().pipeToSelf(client.get(peer, taskId, requestTimeout()), Polled::new);
    }

    private Behavior<Command> onStreamed(Streamed m) {
      if (done || m.stream() != streamNo) {
        return this;
      }
      StreamEvent e = m.event();
      transientErrors = 0;
      backoff = settings().pollMin();
      switch (e.kind()) {
        case SNAPSHOT -> {
          streamed = new java.util.LinkedHashMap<>();
          int n = 0;
          for (A2aClient.Artifact a : e.task().artifacts()) {
            streamed.put(a.id() == null ? "#" + n++ : a.id(), a);
          }
          return onStatus(e.task());
        }
        case ARTIFACT -> {
          if (streamed != null) {
            A2aClient.Artifact a = e.artifact();
            String key = a.id() == null ? "#" + streamed.size() : a.id();
            A2aClient.Artifact before = streamed.get(key);
            if (e.append() && before != null) {
              List<DelegationResult.Part> parts = new ArrayList<>(before.parts());
              parts.addAll(a.parts());
              a = new A2aClient.Artifact(before.id(), before.name(), parts);
            }
            streamed.put(key, a);
          }
          return this;
        }
        case STATUS -> {
          return onStatus(e.task());
        }
        default -> {
          return this;
        }
      }
    }

    private Behavior<Command> onStatus(RemoteTask t) {
      changed(t.state());
      if (!t.terminal()) {
        return this;
      }
      stopStream();
      if (streamed != null) {
        // the stream showed the whole task: its end, with its artifacts, needs no further call
        return finish(new RemoteTask(taskId, t.state(), t.statusText(), new ArrayList<>(streamed.values())));
      }
      poll(); // a stream that did not open with the task: read the finished task, with its artifacts
      return this;
    }

    private Behavior<Command> onStreamEnded(StreamEnded m) {
      if (done || m.stream() != streamNo) {
        return this;
      }
      stream = null;
      if (m.error() != null && !idleTimeout(m.error())) {
        A2aException e = A2aClient.classify(m.error(), peer.version().subscribe + " at " + peer.rpcUrl());
        if (e.isTransient()) {
          return retryLater(Retry.WATCH, e);
        }
        // e.g. "the task is in a terminal state and cannot be subscribed to": look at the task itself
      }
      poll();
      return this;
    }

    /** A quiet stream closed by the client's idle timeout is no error: look at the task and subscribe again. */
    private boolean idleTimeout(Throwable t) {
      for (Throwable x = t; x != null; x = x.getCause()) {
        if (String.valueOf(x.getMessage()).contains("idle-timeout") || x.getClass().getName().contains("IdleTimeout")) {
          return true;
        }
      }
      return false;
    }

    private Behavior<Command> onPolled(Polled m) {
      if (done) {
        return this;
      }
      if (m.error() != null) {
        A2aException e = A2aClient.classify(m.error(), peer.version().get + " at " + peer.rpcUrl());
        if (e.isTransient()) {
          return retryLater(Retry.WATCH, e);
        }
        if (e.rpcCode() != null && e.rpcCode() == -32001) {
          if (cancelling) {
            replyCancel(false, "the agent no longer knows task " + taskId);
            return this;
          }
          return fail("remote_task_lost", "the agent no longer knows task " + taskId + ": " + e.getMessage());
        }
        if (cancelling) {
          replyCancel(false, e.getMessage());
          return this;
        }
        return fail(e.reason(), e.getMessage());
      }
      RemoteTask t = m.task();
      transientErrors = 0;
      if (t.terminal()) {
        return finish(t);
      }
      changed(t.state());
      // not over yet: poll again (or, for an agent that streams, subscribe again: its stream ended
      // before the task did) after a backoff that a streamed event resets
      timers.startSingleTimer(Retry.WATCH, Retry.WATCH, backoff);
      backoff = min(backoff.multipliedBy(2), settings().pollMax());
      return this;
    }

    private void changed(String remoteState) {
      if (!remoteState.equals(lastState)) {
        lastState = remoteState;
        reportTo.tell(new StateChanged(remoteState));
      }
    }

    private Behavior<Command> finish(RemoteTask t) {
      stopStream();
      changed(t.state());
      if (cancelling) {
        boolean canceled = t.state().equals("canceled");
        replyCancel(canceled, canceled ? "the agent canceled task " + t.id() : "task " + t.id() + " had already ended " + t.state());
        return this;
      }
      done = true;
      switch (t.state()) {
        case "completed" -> {
          List<DelegationResult.Part> parts = new ArrayList<>(t.parts());
          if (parts.isEmpty() && t.statusText() != null) {
            parts.add(new DelegationResult.Part(null, t.statusText(), null));
          }
          reportTo.tell(new Completed(new DelegationResult(parts, null, false)));
        }
        case "failed" -> reportTo.tell(new Failed("remote_failed", "the agent's task " + t.id() + " failed" + said(t)));
        case "rejected" -> reportTo.tell(new Failed("remote_rejected", "the agent rejected task " + t.id() + said(t)));
        case "canceled" -> reportTo.tell(new Failed("remote_canceled", "the agent canceled task " + t.id()
            + " without being asked by Reins" + said(t)));
        case "input-required" -> reportTo.tell(new Failed("remote_input_required", "the agent's task " + t.id()
            + " asks for input, which a delegation cannot give" + said(t)));
        case "auth-required" -> reportTo.tell(new Failed("remote_auth_required", "the agent's task " + t.id()
            + " asks for authentication, which a delegation cannot give" + said(t)));
        default -> reportTo.tell(new Failed("malformed_response", "task " + t.id() + " ended in an unknown state " + t.state()));
      }
      return this;
    }

    private String said(RemoteTask t) {
      return t.statusText() == null ? "" : ": " + A2aClient.abbreviate(t.statusText());
    }

    // ---- cancel -------------------------------------------------------------------------------------

    private Behavior<Command> onCancelRemote(CancelRemote m) {
      if (cancelling) {
        return this;
      }
      cancelling = true;
      timers.startSingleTimer(new CancelWaitOver(), m.within());
      if (done) {
        replyCancel(false, "the remote work had already ended");
      } else if (taskId != null && peer != null) {
        issueCancel();
      } else if (taskId == null && peer != null && !sending && !finding) {
        replyCancel(true, "nothing had been sent to the agent");
      }
      // otherwise: the card or the send is on its way; its answer decides (within the bound)
      return this;
    }

    private void issueCancel() {
      if (cancelIssued || cancelReplied) {
        return;
      }
      cancelIssued = true;
      getContext().pipeToSelf(client.cancel(peer, taskId, requestTimeout()), CancelAnswered::new);
    }

    private Behavior<Command> onCancelAnswered(CancelAnswered m) {
      if (cancelReplied) {
        return this;
      }
      if (m.error() != null) {
        A2aException e = A2aClient.classify(m.error(), peer.version().cancel + " at " + peer.rpcUrl());
        cancelProblem = e.getMessage();
        if (e.isTransient()) {
          cancelIssued = false;
          timers.startSingleTimer(Retry.CANCEL, Retry.CANCEL, settings().pollMin());
        } else if (!done) {
          poll(); // e.g. "task not cancelable": it has ended; the task says how
        }
        return this;
      }
      RemoteTask t = m.task();
      if (t.terminal()) {
        return finish(t);
      }
      // accepted but not yet canceled: the watch sees the end, or the bound ends the wait
      return this;
    }

    private void replyCancel(boolean confirmed, String detail) {
      if (cancelReplied) {
        return;
      }
      cancelReplied = true;
      done = true;
      stopStream();
      timers.cancelAll();
      reportTo.tell(new CancelOutcome(confirmed, detail));
    }

    // ---- retries ------------------------------------------------------------------------------------

    private Behavior<Command> onRetry(Retry r) {
      if (done && r != Retry.CANCEL) {
        return this;
      }
      switch (r) {
        case CARD -> readCard();
        case FIND -> find();
        case WATCH -> watch();
        case CANCEL -> {
          if (!cancelReplied) {
            issueCancel();
          }
        }
      }
      return this;
    }

    /** A transient error: try again after a backoff; the delegation's deadline bounds it all. */
    private Behavior<Command> retryLater(Retry what, A2aException e) {
      transientErrors++;
      if (transientErrors == 1 || transientErrors % 20 == 0) {
        log.warn("delegation {} of run {}: {} ({}, try {}); trying again with backoff until the deadline {}", state.delegationId(),
            state.runId(), e.getMessage(), e.reason(), transientErrors, state.deadline());
      }
      timers.startSingleTimer(what, what, backoff);
      backoff = min(backoff.multipliedBy(2), settings().pollMax());
      return this;
    }

    private void stopStream() {
      if (stream != null) {
        stream.shutdown();
        stream = null;
      }
      streamNo++;
    }

    private Behavior<Command> fail(String reason, String detail) {
      done = true;
      stopStream();
      reportTo.tell(new Failed(reason, detail));
      return this;
    }

    /** One call's bound: the configured timeout, but not (much) past the delegation's deadline. */
    private Duration requestTimeout() {
      Duration left = Duration.between(clock.instant(), state.deadline()).plusSeconds(1);
      Duration t = min(settings().requestTimeout(), left);
      return t.compareTo(Duration.ofMillis(100)) < 0 ? Duration.ofMillis(100) : t;
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
