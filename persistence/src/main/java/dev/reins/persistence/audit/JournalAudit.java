package dev.reins.persistence.audit;

import dev.reins.persistence.RunJournal;
import dev.reins.persistence.runlist.RunList;
import dev.reins.protocol.api.RunSummary;
import dev.reins.protocol.delegation.DelegationEvent;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * Replays the journal with the entities' own folds ({@link RunState#apply}, {@link
 * DelegationState#apply}) and compares the result with what was built from it: the run list read
 * model, or what a server answers. Reads only.
 */
public final class JournalAudit {
  private static final String RUN_PREFIX = RunJournal.ENTITY_TYPE + "|";
  private static final String DELEGATION_PREFIX = "Delegation|";

  private final ActorSystem<?> system;
  private final JdbcReadJournal journal;
  private final Duration timeout;

  public JournalAudit(ActorSystem<?> system, Duration timeout) {
    this.system = system;
    this.journal = PersistenceQuery.get(system).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
    this.timeout = timeout;
  }

  /** One event of a run and the run's state after it. */
  public record Step(EventEnvelope envelope, RunEvent event, RunState after) {}

  /** A run as its journal tells it: its state after the last event, whose seq is {@code version}. */
  public record Replayed(String runId, RunState state, long version) {}

  /** Something that does not agree: where ({@code journal}, {@code read-model}, {@code server}), which run, what. */
  public record Divergence(String where, String id, String detail) {
    @Override
    public String toString() {
      return where + " " + id + ": " + detail;
    }
  }

  /** Every persistence id in the journal (runs, delegations, sharding's own), in no particular order. */
  public List<String> persistenceIds() throws Exception {
    return journal.currentPersistenceIds().runWith(Sink.seq(), system).toCompletableFuture()
        .get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private List<EventEnvelope> events(String persistenceId) throws Exception {
    return journal.currentEventsByPersistenceId(persistenceId, 0L, Long.MAX_VALUE).runWith(Sink.seq(), system)
        .toCompletableFuture().get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** Run {@code runId}'s events, in order. */
  public List<EventEnvelope> runEvents(String runId) throws Exception {
    return events(RUN_PREFIX + runId);
  }

  /** Run {@code runId}'s history: each event and the state after it (empty for an unknown run). */
  public List<Step> history(String runId) throws Exception {
    List<Step> steps = new ArrayList<>();
    RunState state = RunState.EMPTY;
    for (EventEnvelope e : events(RUN_PREFIX + runId)) {
      RunEvent event = (RunEvent) e.event();
      state = state.apply(event);
      steps.add(new Step(e, event, state));
    }
    return steps;
  }

  /**
   * Replays every run and delegation. A journal that cannot be folded (a gap in the sequence
   * numbers, a first event that is not the creation, an event the fold refuses) is reported;
   * {@code progress} hears (done, total) after each persistence id.
   */
  public Map<String, Replayed> replayAll(List<Divergence> divergences, BiConsumer<Integer, Integer> progress) throws Exception {
    List<String> ids = persistenceIds().stream()
        .filter(id -> id.startsWith(RUN_PREFIX) || id.startsWith(DELEGATION_PREFIX)).sorted().toList();
    Map<String, Replayed> runs = new TreeMap<>();
    int done = 0;
    for (String id : ids) {
      List<EventEnvelope> events = events(id);
      if (id.startsWith(RUN_PREFIX)) {
        String runId = id.substring(RUN_PREFIX.length());
        replayRun(runId, events, divergences).ifPresent(r -> runs.put(runId, r));
      } else {
        replayDelegation(id.substring(DELEGATION_PREFIX.length()), events, divergences);
      }
      progress.accept(++done, ids.size());
    }
    return runs;
  }

  /** One run from its journal; empty (and reported) when the journal cannot be folded. */
  public java.util.Optional<Replayed> replayRun(String runId, List<EventEnvelope> events, List<Divergence> divergences) {
    RunState state = RunState.EMPTY;
    long expected = 1;
    for (EventEnvelope e : events) {
      if (e.sequenceNr() != expected) {
        divergences.add(new Divergence("journal", runId, "event " + expected + " is missing (the next is " + e.sequenceNr() + ")"));
        return java.util.Optional.empty();
      }
      if (!(e.event() instanceof RunEvent event)) {
        divergences.add(new Divergence("journal", runId, "event " + expected + " is not a run event: " + e.event()));
        return java.util.Optional.empty();
      }
      if (expected == 1 != event instanceof RunEvent.RunSubmitted) {
        divergences.add(new Divergence("journal", runId, expected == 1
            ? "the first event is " + event.getClass().getSimpleName() + ", not RunSubmitted"
            : "event " + expected + " submits the run again"));
        return java.util.Optional.empty();
      }
      try {
        state = state.apply(event);
      } catch (RuntimeException ex) {
        divergences.add(new Divergence("journal", runId, "event " + expected + " does not fold: " + ex));
        return java.util.Optional.empty();
      }
      expected++;
    }
    return state.exists() ? java.util.Optional.of(new Replayed(runId, state, expected - 1)) : java.util.Optional.empty();
  }

  private static void replayDelegation(String delegationId, List<EventEnvelope> events, List<Divergence> divergences) {
    DelegationState state = DelegationState.EMPTY;
    long expected = 1;
    for (EventEnvelope e : events) {
      if (e.sequenceNr() != expected) {
        divergences.add(new Divergence("journal", "delegation " + delegationId,
            "event " + expected + " is missing (the next is " + e.sequenceNr() + ")"));
        return;
      }
      try {
        state = state.apply((DelegationEvent) e.event());
      } catch (RuntimeException ex) {
        divergences.add(new Divergence("journal", "delegation " + delegationId, "event " + expected + " does not fold: " + ex));
        return;
      }
      expected++;
    }
  }

  /**
   * The read model's rows against the replayed runs: a run without a row, a row without a run,
   * and every column that differs.
   */
  public static List<Divergence> compare(Map<String, Replayed> runs, Map<String, RunSummary> rows) {
    List<Divergence> out = new ArrayList<>();
    for (Replayed run : runs.values()) {
      RunSummary row = rows.get(run.runId());
      if (row == null) {
        out.add(new Divergence("read-model", run.runId(), "no row (the journal has " + run.version() + " event(s), state "
            + run.state().status().json() + ")"));
        continue;
      }
      RunSummary expected = expected(run);
      differ(out, run.runId(), "tenant", expected.tenant(), row.tenant());
      differ(out, run.runId(), "state", expected.state().json(), row.state().json());
      differ(out, run.runId(), "attempt", expected.attempt(), row.attempt());
      differ(out, run.runId(), "labels", expected.labels(), row.labels());
      differ(out, run.runId(), "parentRunId", expected.parentRunId(), row.parentRunId());
      differ(out, run.runId(), "createdAt", expected.createdAt(), row.createdAt());
      differ(out, run.runId(), "updatedAt", expected.updatedAt(), row.updatedAt());
      differ(out, run.runId(), "seq", expected.version(), row.version());
    }
    for (String id : rows.keySet()) {
      if (!runs.containsKey(id)) {
        out.add(new Divergence("read-model", id, "a row for a run the journal does not have"));
      }
    }
    return out;
  }

  /** The row the read model should hold for {@code run}. */
  public static RunSummary expected(Replayed run) {
    RunState s = run.state();
    return new RunSummary(run.runId(), s.tenant(), s.status(), s.attempt(), s.spec().labels(), s.parentRunId(),
        RunList.instant(RunList.nanos(s.createdAt())), RunList.instant(RunList.nanos(s.updatedAt())), run.version());
  }

  private static void differ(List<Divergence> out, String runId, String column, Object journal, Object other) {
    if (!Objects.equals(journal, other)) {
      out.add(new Divergence("read-model", runId, column + " is " + other + ", the journal says " + journal));
    }
  }
}
