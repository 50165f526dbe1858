package dev.reins.runtime.worker;

import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RunSpec;
import dev.reins.runtime.CborSerializable;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * Owns the OS process of one attempt of one run: starts it, keeps its output, stops its whole
 * process tree on request (TERM, the grace period, KILL) and reports to the run. A child of the
 * {@link WorkerPool}, never of the run entity, so that passivating or moving the entity never
 * kills the process.
 *
 * <p>Reports go out one at a time, in order (started before exited), each repeated until the run
 * acknowledges it: a report lost on the way, or sent while the entity was restarting, is never
 * lost for good.
 */
public final class ProcessWorker extends AbstractBehavior<ProcessWorker.Command> {

  public sealed interface Command extends CborSerializable {}

  /** Why a worker stopped an attempt that its run did not ask to stop. */
  public static final String NODE_SHUTDOWN = "node_shutdown";

  /**
   * Stop the attempt's processes: TERM now, KILL after {@code grace}. Idempotent. {@code
   * interruption} ({@code node_shutdown}) says the node, not the run, wants it stopped.
   */
  public record Stop(int attempt, Duration grace, String interruption) implements Command {
    public Stop(int attempt, Duration grace) {
      this(attempt, grace, null);
    }
  }

  /** The run recorded this worker for the attempt: start the process. */
  public record ClaimGranted(int attempt) implements Command {}

  /** The run does not want this worker to run the attempt: go away without starting anything. */
  public record ClaimDenied(int attempt, String reason) implements Command {}

  /** The run has recorded the report of this kind ({@code started} or {@code exited}). */
  public record Ack(int attempt, String report) implements Command {}

  /** Repeat the pending report now (the run has asked for this attempt again). */
  record Resend() implements Command {}

  private record ProcessEnded(int exitValue) implements Command {}

  private record KillNow() implements Command {}

  private record GiveUp() implements Command {}

  private record ResendClaim() implements Command {}

  private static final String RESEND_TIMER = "resend";
  private static final String CLAIM_TIMER = "claim";

  private final String runId;
  private final String tenant;
  private final int attempt;
  private final RunSpec runSpec;
  private final String node;
  private final WorkerSettings settings;
  private final JobCredentials credentials;
  private final PidFiles pids;
  private final BiConsumer<String, WorkerReport> reportTo;
  private final ActorRef<WorkerPool.Command> pool;
  private final TimerScheduler<Command> timers;
  private final Deque<WorkerReport> outbox = new ArrayDeque<>();
  private ProcessHandle process;
  /** Until the run grants the claim, nothing has started and a stop simply ends the worker. */
  private boolean claimed;
  private boolean stopping;
  private String interruption;
  private boolean ended;

  public static Behavior<Command> create(
      String runId,
      String tenant,
      int attempt,
      RunSpec spec,
      String node,
      WorkerSettings settings,
      JobCredentials credentials,
      PidFiles pids,
      BiConsumer<String, WorkerReport> reportTo,
      ActorRef<WorkerPool.Command> pool) {
    // its log lines carry the run and attempt in the MDC (the JSON log's fields)
    return Behaviors.withMdc(Command.class, java.util.Map.of("runId", runId, "attempt", Integer.toString(attempt)),
        Behaviors.setup(
            ctx ->
                Behaviors.withTimers(
                    timers -> {
                      ProcessWorker w = new ProcessWorker(
                          ctx, runId, tenant, attempt, spec, node, settings, credentials, pids, reportTo, pool, timers);
                      w.claim();
                      return w;
                    })));
  }

  private ProcessWorker(
      ActorContext<Command> ctx,
      String runId,
      String tenant,
      int attempt,
      RunSpec runSpec,
      String node,
      WorkerSettings settings,
      JobCredentials credentials,
      PidFiles pids,
      BiConsumer<String, WorkerReport> reportTo,
      ActorRef<WorkerPool.Command> pool,
      TimerScheduler<Command> timers) {
    super(ctx);
    this.runId = runId;
    this.tenant = tenant;
    this.attempt = attempt;
    this.runSpec = runSpec;
    this.node = node;
    this.settings = settings;
    this.credentials = credentials;
    this.pids = pids;
    this.reportTo = reportTo;
    this.pool = pool;
    this.timers = timers;
  }

  /**
   * Asks the run for the attempt, repeating until it answers: a worker never starts a process the
   * run has not recorded as its own (see RunEvent.AttemptPlaced).
   */
  private void claim() {
    reportTo.accept(runId, new WorkerReport.Claim(runId, attempt, node, getContext().getSelf()));
    timers.startTimerWithFixedDelay(CLAIM_TIMER, new ResendClaim(), settings.reportResendInterval());
    timers.startSingleTimer(new GiveUp(), settings.claimGiveUpAfter());
  }

  private Behavior<Command> onClaimGranted(ClaimGranted g) {
    if (claimed || ended || g.attempt() != attempt || stopping) {
      return this;
    }
    claimed = true;
    timers.cancel(CLAIM_TIMER);
    timers.cancel(new GiveUp());
    start((ProcessSpec) runSpec.executor());
    return this;
  }

  private Behavior<Command> onClaimDenied(ClaimDenied d) {
    if (claimed || ended || d.attempt() != attempt) {
      return this;
    }
    getContext().getLog().info("run {} attempt {}: not started here ({})", runId, attempt, d.reason());
    ended = true;
    pool.tell(new WorkerPool.ProcessGone(runId, attempt));
    return Behaviors.stopped();
  }

  private void start(ProcessSpec spec) {
    ActorRef<Command> self = getContext().getSelf();
    Process started;
    try {
      Path workdir;
      if (spec.workdir() != null) {
        workdir = Path.of(spec.workdir());
      } else {
        workdir = Files.createDirectories(settings.dataDir().resolve("work").resolve(runId));
        if (settings.runAs().isPresent()) {
          settings.runAs().get().handOver(workdir);
        }
      }
      if (!Files.isDirectory(workdir)) {
        throw new IOException("working directory " + workdir + " does not exist");
      }
      ProcessBuilder pb = new ProcessBuilder(ProcessTree.launchArgv(spec.command(), settings.runAs()));
      Map<String, String> reins = new LinkedHashMap<>();
      reins.put("REINS_RUN_ID", runId);
      reins.put("REINS_ATTEMPT", Integer.toString(attempt));
      reins.put("REINS_API_URL", settings.apiUrl());
      reins.put("REINS_TOKEN", credentials.tokenFor(runId, tenant, attempt, runSpec));
      Map<String, String> server = System.getenv();
      if (settings.runAs().isPresent()) {
        // the job's HOME is its user's, never the server's
        server = new HashMap<>(server);
        server.put("HOME", settings.runAs().get().home());
      }
      Map<String, String> env = pb.environment();
      env.clear();
      env.putAll(JobEnvironment.build(server, settings.passEnv(), spec.env(), reins));
      checkExecutable(spec.command().get(0), env.get("PATH"), workdir);
      pb.directory(workdir.toFile());
      pb.redirectErrorStream(true);
      pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      started = pb.start();
    } catch (IOException | RuntimeException e) {
      getContext().getLog().info("run {} attempt {} could not start: {}", runId, attempt, e.getMessage());
      ended = true;
      pool.tell(new WorkerPool.ProcessGone(runId, attempt));
      enqueue(new WorkerReport.StartFailed(runId, attempt, e.getMessage(), self));
      timers.startSingleTimer(new GiveUp(), settings.reportGiveUpAfter());
      return;
    }
    process = started.toHandle();
    try {
      pids.record(runId, attempt, process);
    } catch (IOException e) {
      // without a pid file a crash would orphan the process; refuse to run it
      getContext().getLog().error("cannot record pid of run {} attempt {}: {}", runId, attempt, e.toString());
      ProcessTree.signal(process, ProcessTree.Signal.KILL);
    }
    AttemptLog log = new AttemptLog(settings.dataDir(), runId, attempt, settings.logCapBytes());
    Process forPump = started;
    Thread pump =
        new Thread(
            () -> {
              try {
                log.pump(forPump.getInputStream());
              } catch (IOException e) {
                // the process closed its output or the disk failed; the exit is still reported
              }
            },
            "reins-log-" + runId + "-" + attempt);
    pump.setDaemon(true);
    pump.start();
    getContext().pipeToSelf(started.onExit(), (p, err) -> new ProcessEnded(p == null ? -1 : p.exitValue()));
    enqueue(new WorkerReport.Started(runId, attempt, node, process.pid(), self));
  }

  /** Gives "cannot start" its own, clear answer instead of an exit status from setsid. */
  private static void checkExecutable(String executable, String path, Path workdir) throws IOException {
    if (executable.contains("/")) {
      Path p = workdir.resolve(executable);
      if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
        throw new IOException("executable " + executable + " not found or not executable");
      }
      return;
    }
    if (path != null) {
      for (String dir : path.split(":")) {
        Path p = Path.of(dir.isEmpty() ? "." : dir).resolve(executable);
        if (Files.isRegularFile(p) && Files.isExecutable(p)) {
          return;
        }
      }
    }
    throw new IOException("executable " + executable + " not found on PATH");
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Stop.class, this::onStop)
        .onMessage(ClaimGranted.class, this::onClaimGranted)
        .onMessage(ClaimDenied.class, this::onClaimDenied)
        .onMessage(ResendClaim.class, m -> {
          if (!claimed && !ended) {
            reportTo.accept(runId, new WorkerReport.Claim(runId, attempt, node, getContext().getSelf()));
          }
          return this;
        })
        .onMessage(KillNow.class, m -> onKillNow())
        .onMessage(ProcessEnded.class, this::onProcessEnded)
        .onMessage(Ack.class, this::onAck)
        .onMessage(Resend.class, m -> onResend())
        .onMessage(GiveUp.class, m -> onGiveUp())
        .onSignal(PostStop.class, s -> onPostStop())
        .build();
  }

  /**
   * The worker stops with its process gone, except when the node shuts down (or the worker
   * fails): then nobody would own the process any more, so it goes too. Its run learns of it by
   * death watch, as after a crash.
   */
  private Behavior<Command> onPostStop() {
    if (process != null && !ended && process.isAlive()) {
      getContext().getLog().warn("run {} attempt {}: worker stopping with its process alive; killing pid {} and its tree",
          runId, attempt, process.pid());
      ProcessTree.signal(process, ProcessTree.Signal.KILL);
    }
    return this;
  }

  private Behavior<Command> onStop(Stop stop) {
    if (stop.attempt() != attempt || ended || stopping) {
      return this;
    }
    if (!claimed) {
      // Nothing was started. The run may have granted the claim already (the grant on its way):
      // tell it why this attempt never ran, so it records that instead of a lost worker (a
      // shutdown's stop is an interruption, not the run's failure). A run that never placed this
      // worker just acknowledges the report.
      ended = true;
      timers.cancel(CLAIM_TIMER);
      pool.tell(new WorkerPool.ProcessGone(runId, attempt));
      ActorRef<Command> self = getContext().getSelf();
      enqueue(stop.interruption() != null
          ? new WorkerReport.Exited(runId, attempt, null, null, stop.interruption(), self)
          : new WorkerReport.StartFailed(runId, attempt, "stopped before its process started", self));
      timers.startSingleTimer(new GiveUp(), settings.reportGiveUpAfter());
      return this;
    }
    if (process == null) {
      return this; // the start failed; its report is on its way
    }
    stopping = true;
    interruption = stop.interruption();
    getContext().getLog().info("run {} attempt {}: TERM to pid {} and its tree, KILL in {}", runId, attempt, process.pid(), stop.grace());
    if (stop.grace().isZero()) {
      ProcessTree.signal(process, ProcessTree.Signal.KILL);
    } else {
      ProcessTree.signal(process, ProcessTree.Signal.TERM);
      timers.startSingleTimer(new KillNow(), stop.grace());
    }
    return this;
  }

  private Behavior<Command> onKillNow() {
    if (!ended) {
      getContext().getLog().info("run {} attempt {}: grace period over, KILL to pid {} and its tree", runId, attempt, process.pid());
      ProcessTree.signal(process, ProcessTree.Signal.KILL);
    }
    return this;
  }

  private Behavior<Command> onProcessEnded(ProcessEnded m) {
    ended = true;
    timers.cancel(new KillNow());
    // Whatever the process left in its group would be an orphan with no owner: the attempt is
    // over, so its whole tree goes with it.
    ProcessTree.signalGroup(process.pid(), ProcessTree.Signal.KILL);
    pids.remove(runId, attempt);
    pool.tell(new WorkerPool.ProcessGone(runId, attempt));
    String signal = ProcessTree.signalOf(m.exitValue());
    Integer code = signal == null ? m.exitValue() : null;
    enqueue(new WorkerReport.Exited(runId, attempt, code, signal, interruption, getContext().getSelf()));
    timers.startSingleTimer(new GiveUp(), settings.reportGiveUpAfter());
    return this;
  }

  private Behavior<Command> onAck(Ack ack) {
    WorkerReport head = outbox.peekFirst();
    if (head != null && ack.attempt() == attempt && ack.report().equals(kind(head))) {
      outbox.pollFirst();
      if (outbox.isEmpty()) {
        timers.cancel(RESEND_TIMER);
        if (ended) {
          return Behaviors.stopped();
        }
      } else {
        sendHead();
      }
    }
    return this;
  }

  private Behavior<Command> onResend() {
    sendHead();
    return this;
  }

  private Behavior<Command> onGiveUp() {
    if (!claimed && !ended) {
      getContext().getLog().warn("run {} attempt {}: the run never answered the claim; giving the slot back", runId, attempt);
      ended = true;
      pool.tell(new WorkerPool.ProcessGone(runId, attempt));
      return Behaviors.stopped();
    }
    getContext().getLog().error("run {} attempt {}: the run never acknowledged {}; giving up", runId, attempt, outbox.peekFirst());
    return Behaviors.stopped();
  }

  private void enqueue(WorkerReport report) {
    outbox.addLast(report);
    if (outbox.size() == 1) {
      sendHead();
    }
  }

  private void sendHead() {
    WorkerReport head = outbox.peekFirst();
    if (head != null) {
      reportTo.accept(runId, head);
      timers.startTimerWithFixedDelay(RESEND_TIMER, new Resend(), settings.reportResendInterval());
    }
  }

  static String kind(WorkerReport report) {
    return report instanceof WorkerReport.Started ? "started" : "exited";
  }

  /** The acknowledgement the run sends for {@code report}. */
  public static Ack ackFor(WorkerReport report) {
    return new Ack(report.attempt(), kind(report));
  }
}
