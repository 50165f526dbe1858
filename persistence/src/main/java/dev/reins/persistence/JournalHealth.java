package dev.reins.persistence;

import com.typesafe.config.Config;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.pattern.CircuitBreaker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the journal database answers, as this node last found out: a Pekko {@link CircuitBreaker}
 * whose only calls are a small journal query, made every {@code probe-interval}. A failed or slow
 * query opens it; while it is open nothing is asked of the database but one query per interval,
 * and the first that succeeds closes it again.
 *
 * <p>Requests that need the journal go through {@link #guard}: while the journal is down they fail
 * at once instead of each waiting out a timeout, and, more important, without reaching an entity
 * that is not in memory. Starting one would write to sharding's remembered entities in the same
 * database; that write fails and takes the whole shard, every run in it, down with it until the
 * database is back. A request already on its way when the journal goes down fails then too,
 * saying that it may still take effect (its event may be written when the database is back).
 */
public final class JournalHealth {
  private static final Logger log = LoggerFactory.getLogger(JournalHealth.class);

  /** {@code reins.db.health}: see reference.conf. */
  public record Settings(Duration probeInterval, Duration probeTimeout, int failuresToOpen) {
    public static Settings fromConfig(Config config) {
      Config h = config.getConfig("reins.db.health");
      return new Settings(h.getDuration("probe-interval"), h.getDuration("probe-timeout"), h.getInt("failures-to-open"));
    }
  }

  private final ActorSystem<?> system;
  private final Supplier<CompletionStage<?>> probe;
  private final Settings settings;
  private final CircuitBreaker breaker;
  private final AtomicReference<String> lastFailure = new AtomicReference<>("not checked yet");
  /** When the journal was found down; null while it is up. */
  private final AtomicReference<Instant> downSince = new AtomicReference<>();
  /** Whether any probe has succeeded yet. */
  private volatile boolean answered;
  /** Guarded requests not completed yet: failed when the journal goes down. */
  private final Set<CompletableFuture<?>> waiting = ConcurrentHashMap.newKeySet();

  private JournalHealth(ActorSystem<?> system, Supplier<CompletionStage<?>> probe, Settings settings) {
    this.system = system;
    this.probe = probe;
    this.settings = settings;
    // Reset timeout = probe interval: while open, the next probe after one interval is the trial.
    // The probe times out by itself (probeOnce), so that its failure is known (lastFailure) when
    // the breaker opens; the breaker's call timeout is only a backstop.
    this.breaker = CircuitBreaker.create(system.classicSystem().scheduler(), settings.failuresToOpen(),
            settings.probeTimeout().plusSeconds(1), settings.probeInterval())
        .addOnOpenListener(this::wentDown)
        .addOnCloseListener(this::cameBack);
  }

  /** Checks the run journal of {@code system} every {@code probe-interval} until the system terminates. */
  public static JournalHealth start(ActorSystem<?> system, RunJournal journal, Settings settings) {
    return start(system, () -> journal.ping(settings.probeTimeout()), settings);
  }

  /** As {@link #start(ActorSystem, RunJournal, Settings)}, with any query as the probe (tests). */
  public static JournalHealth start(ActorSystem<?> system, Supplier<CompletionStage<?>> probe, Settings settings) {
    JournalHealth health = new JournalHealth(system, probe, settings);
    // The first check warms up the pool and the query and may be slow: it does not count.
    health.probeOnce().whenComplete((ok, e) -> health.probeLater());
    return health;
  }

  /**
   * False from the {@code failures-to-open}th failed check in a row until a check succeeds again;
   * true otherwise (also before the first check: start-up has just used the database).
   */
  public boolean available() {
    return breaker.isClosed();
  }

  /** Available, and a check has succeeded: what readiness reports. */
  public boolean ready() {
    return answered && available();
  }

  /** Why the journal counts as down (the last probe's failure). */
  public String lastFailure() {
    return lastFailure.get();
  }

  /** What a request that needs the journal fails with while it is down. */
  public JournalUnavailable unavailable() {
    return new JournalUnavailable("the journal database does not answer (" + lastFailure.get() + "); nothing was done");
  }

  /**
   * {@code body} if the journal is up, else a stage failed with {@link #unavailable()} and nothing
   * done. If the journal goes down before {@code body} completes, the stage fails then (the request
   * may still take effect once the database is back).
   */
  public <T> CompletionStage<T> guard(Supplier<CompletionStage<T>> body) {
    if (!available()) {
      return CompletableFuture.failedStage(unavailable());
    }
    CompletableFuture<T> result = new CompletableFuture<>();
    waiting.add(result);
    body.get().whenComplete((value, e) -> {
      waiting.remove(result);
      if (e == null) {
        result.complete(value);
      } else {
        result.completeExceptionally(e);
      }
    });
    if (!available()) {
      // went down between the check and the registration: the listener may have missed it
      failWaiting(result);
    }
    return result;
  }

  /** On every opening: the first after the journal was up, and each failed trial while it is down. */
  private void wentDown() {
    if (downSince.compareAndSet(null, Instant.now())) {
      log.warn("the journal database does not answer ({}): requests that need it answer 503 until it does", lastFailure.get());
    }
    waiting.forEach(this::failWaiting);
  }

  private void cameBack() {
    Instant since = downSince.getAndSet(null);
    if (since != null) {
      log.info("the journal database answers again, after {} ms", Duration.between(since, Instant.now()).toMillis());
    }
  }

  private void failWaiting(CompletableFuture<?> request) {
    waiting.remove(request);
    request.completeExceptionally(new JournalUnavailable("the journal database stopped answering (" + lastFailure.get()
        + ") while this request waited for it; it may still take effect once the database is back: read the run "
        + "before repeating it"));
  }

  private void probeNow() {
    // While the breaker is open this fails at once without a query; after one interval it lets
    // one probe through, whose answer closes or reopens it.
    breaker.callWithCircuitBreakerCS(this::probeOnce).whenComplete((ok, e) -> probeLater());
  }

  private void probeLater() {
    if (system.getWhenTerminated().toCompletableFuture().isDone()) {
      return;
    }
    try {
      system.scheduler().scheduleOnce(settings.probeInterval(), this::probeNow, system.executionContext());
    } catch (IllegalStateException terminating) {
      // the scheduler is shutting down with the system: nothing left to watch
    }
  }

  private CompletionStage<?> probeOnce() {
    CompletableFuture<?> answer;
    try {
      answer = probe.get().toCompletableFuture().copy();
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    return answer.orTimeout(settings.probeTimeout().toMillis(), TimeUnit.MILLISECONDS).whenComplete((ok, e) -> {
      if (e == null) {
        answered = true;
      } else {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        lastFailure.set(cause instanceof TimeoutException ? "no answer within " + settings.probeTimeout().toMillis() + " ms"
            : rootMessage(cause));
      }
    });
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  /** The journal database is known to be down; the message says whether anything may have been done. */
  public static final class JournalUnavailable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    JournalUnavailable(String message) {
      super(message, null, false, false);
    }
  }
}
