package dev.reins.persistence;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.reins.protocol.api.StoredEvent;
import dev.reins.protocol.json.ReinsJson;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * Reads runs' journals through Pekko Persistence Query: the journal itself, never a copy. The
 * same fold as recovery ({@link RunState#apply}) rebuilds a run's state at any sequence number.
 */
public final class RunJournal {
  /** Persistence ids are {@code Run|<runId>}, the sharding entity type and the entity id. */
  public static final String ENTITY_TYPE = "Run";

  private final ActorSystem<?> system;
  private final JdbcReadJournal readJournal;
  private final Connections connections;
  private final Serialization serialization;
  private final Executor blocking;

  public RunJournal(ActorSystem<?> system) {
    this.system = system;
    this.connections = Connections.pooled(system);
    this.serialization = SerializationExtension.get(system);
    this.blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig("reins.db.blocking-dispatcher"));
    this.readJournal =
        PersistenceQuery.get(system).getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
  }

  public static String persistenceId(String runId) {
    return ENTITY_TYPE + "|" + runId;
  }

  public CompletionStage<List<EventEnvelope>> envelopes(String runId, long toSequenceNr) {
    return readJournal
        .currentEventsByPersistenceId(persistenceId(runId), 0L, toSequenceNr)
        .runWith(Sink.seq(), system);
  }

  /**
   * The run's first event (its {@code RunSubmitted}), or empty for a run that does not exist: one
   * indexed row by primary key, read with plain JDBC on the blocking dispatcher. It answers every
   * lookup of an unknown run id, so it skips what a Persistence Query stream costs per call.
   */
  public CompletionStage<Optional<RunEvent>> firstEvent(String runId) {
    return CompletableFuture.supplyAsync(() -> {
      try (Connection c = connections.open();
          PreparedStatement s = c.prepareStatement("SELECT \"event_ser_id\", \"event_ser_manifest\", \"event_payload\" "
              + "FROM \"event_journal\" WHERE \"persistence_id\" = ? AND \"sequence_number\" = 1 AND \"deleted\" = FALSE")) {
        s.setString(1, persistenceId(runId));
        try (ResultSet r = s.executeQuery()) {
          if (!r.next()) {
            return Optional.<RunEvent>empty();
          }
          return Optional.of((RunEvent) serialization.deserialize(r.getBytes(3), r.getInt(1), r.getString(2)).get());
        }
      } catch (SQLException e) {
        throw new CompletionException(e);
      }
    }, blocking);
  }

  /** The run's journal in order, as the audit endpoint shows it. Empty for an unknown run. */
  public CompletionStage<List<StoredEvent>> events(String runId) {
    return envelopes(runId, Long.MAX_VALUE).thenApply(list -> list.stream().map(RunJournal::toStored).toList());
  }

  /** The run's state after its event {@code toSequenceNr}, rebuilt from the journal. */
  public CompletionStage<Replayed> replay(String runId, long toSequenceNr) {
    return envelopes(runId, toSequenceNr)
        .thenApply(
            list -> {
              RunState state = RunState.EMPTY;
              long version = 0;
              for (EventEnvelope e : list) {
                state = state.apply((RunEvent) e.event());
                version = e.sequenceNr();
              }
              return new Replayed(state, version);
            });
  }

  /**
   * The run's state as of {@code at}: the fold of its events whose time is {@code at} or earlier
   * (a run's events are written in time order). Version 0 when the run did not exist yet.
   */
  public CompletionStage<Replayed> replayAt(String runId, Instant at) {
    return envelopes(runId, Long.MAX_VALUE)
        .thenApply(
            list -> {
              RunState state = RunState.EMPTY;
              long version = 0;
              for (EventEnvelope e : list) {
                RunEvent event = (RunEvent) e.event();
                if (event.at().isAfter(at)) {
                  break;
                }
                state = state.apply(event);
                version = e.sequenceNr();
              }
              return new Replayed(state, version);
            });
  }

  /**
   * The run's events after {@code afterSeq}, then live as they are written (polled every {@code
   * jdbc-read-journal.refresh-interval}), each with the run's state after it (the same fold as
   * recovery, from the first event on). Never completes.
   */
  public Source<Folded, NotUsed> live(String runId, long afterSeq) {
    return readJournal.eventsByPersistenceId(persistenceId(runId), 0L, Long.MAX_VALUE)
        .scan(new Folded(RunState.EMPTY, null), (acc, e) -> new Folded(acc.state().apply((RunEvent) e.event()), toStored(e)))
        .filter(f -> f.event() != null && f.event().seq() > afterSeq);
  }

  /** One event of a run and the run's state after it. */
  public record Folded(RunState state, StoredEvent event) {}

  /** The node that ran (or runs) the attempt, from its placement or start event; empty if it never ran. */
  public CompletionStage<Optional<String>> attemptNode(String runId, int attempt) {
    return envelopes(runId, Long.MAX_VALUE).thenApply(list -> {
      String node = null;
      for (EventEnvelope e : list) {
        if (e.event() instanceof RunEvent.AttemptPlaced p && p.attempt() == attempt) {
          node = p.worker().node();
        } else if (e.event() instanceof RunEvent.AttemptStarted s && s.attempt() == attempt) {
          node = s.worker().node();
        }
      }
      return Optional.ofNullable(node);
    });
  }

  /** Answers when the journal database answers a query; fails or times out otherwise. */
  public CompletionStage<Boolean> ping(Duration timeout) {
    return readJournal
        .currentEventsByPersistenceId(persistenceId("health-probe"), 0L, 1L)
        .completionTimeout(timeout)
        .runWith(Sink.ignore(), system)
        .thenApply(done -> true);
  }

  public record Replayed(RunState state, long version) {}

  static StoredEvent toStored(EventEnvelope envelope) {
    RunEvent event = (RunEvent) envelope.event();
    ObjectNode data = ReinsJson.mapper().valueToTree(event);
    String type = data.remove("type").asText();
    return new StoredEvent(envelope.sequenceNr(), type, event.at(), data);
  }
}
