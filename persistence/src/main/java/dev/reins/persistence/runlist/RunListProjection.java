package dev.reins.persistence.runlist;

import dev.reins.persistence.Connections;
import dev.reins.persistence.JournalTags;
import dev.reins.persistence.RunJournal;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.ShardedDaemonProcessSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ShardedDaemonProcess;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.projection.ProjectionBehavior;
import org.apache.pekko.projection.ProjectionId;
import org.apache.pekko.projection.eventsourced.EventEnvelope;
import org.apache.pekko.projection.eventsourced.javadsl.EventSourcedProvider;
import org.apache.pekko.projection.javadsl.ExactlyOnceProjection;
import org.apache.pekko.projection.javadsl.ProjectionManagement;
import org.apache.pekko.projection.jdbc.javadsl.JdbcHandler;
import org.apache.pekko.projection.jdbc.javadsl.JdbcProjection;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The projection that keeps the run list ({@link RunList}): Pekko Projection over {@code
 * eventsByTag} of pekko-persistence-jdbc, one instance per journal slice ({@link JournalTags}),
 * spread over the cluster as a sharded daemon process. Exactly once: each event's row change and
 * the slice's offset commit in one transaction of the journal database.
 */
public final class RunListProjection {
  private static final Logger log = LoggerFactory.getLogger(RunListProjection.class);
  /** The projection's name: the offset store's {@code projection_name}, and the admin API's. */
  public static final String NAME = "runs";
  private static final String PREFIX = RunJournal.ENTITY_TYPE + "|";

  private RunListProjection() {}

  public static ProjectionId id(String tag) {
    return ProjectionId.of(NAME, tag);
  }

  /**
   * Starts the slices' instances (on this node or another, as sharding decides), once the offset
   * tables exist: created here when asked to. Completes when the daemon process is registered.
   */
  public static CompletionStage<Done> init(ActorSystem<?> system, Connections connections, boolean createTables) {
    CompletionStage<Done> tables = createTables
        ? createTables(system, connections, CREATE_ATTEMPTS)
        : CompletableFuture.completedFuture(Done.getInstance());
    return tables.handle((done, e) -> {
      if (e != null) {
        // the instances retry with backoff on their own: a table that appears later is found then
        log.warn("could not create the projection offset tables (the run list starts anyway): {}", e.toString());
      }
      List<String> tags = JournalTags.all();
      ShardedDaemonProcess.get(system).init(ProjectionBehavior.Command.class, "reins-projection-" + NAME, tags.size(),
          i -> ProjectionBehavior.create(projection(system, connections, tags.get(i))),
          ShardedDaemonProcessSettings.create(system), Optional.of(ProjectionBehavior.stopMessage()));
      return Done.getInstance();
    });
  }

  private static final int CREATE_ATTEMPTS = 3;

  /**
   * pekko-projection-jdbc's own DDL, IF NOT EXISTS. Nodes starting together may race on it in
   * PostgreSQL (a unique violation in the catalog); the loser's next attempt finds the tables.
   */
  private static CompletionStage<Done> createTables(ActorSystem<?> system, Connections connections, int attempts) {
    return JdbcProjection.createTablesIfNotExists(() -> new JournalSession(connections), system)
        .exceptionallyCompose(e -> attempts <= 1 ? CompletableFuture.failedStage(e)
            : org.apache.pekko.pattern.Patterns.after(java.time.Duration.ofMillis(300), system.classicSystem().scheduler(),
                system.executionContext(), () -> createTables(system, connections, attempts - 1)));
  }

  static ExactlyOnceProjection<org.apache.pekko.persistence.query.Offset, EventEnvelope<Object>> projection(
      ActorSystem<?> system, Connections connections, String tag) {
    return JdbcProjection.exactlyOnce(
        id(tag),
        EventSourcedProvider.eventsByTag(system, JdbcReadJournal.Identifier(), tag),
        () -> new JournalSession(connections),
        () -> new Handler(codec(system)),
        system);
  }

  /** Starts every slice from offset zero again; the running instances re-read the journal and rewrite every row. */
  public static CompletionStage<Done> rebuild(ActorSystem<?> system) {
    ProjectionManagement management = ProjectionManagement.get(system);
    CompletableFuture<?>[] cleared = JournalTags.all().stream()
        .map(tag -> management.clearOffset(id(tag)).toCompletableFuture())
        .toArray(CompletableFuture[]::new);
    return CompletableFuture.allOf(cleared).thenApply(v -> Done.getInstance());
  }

  /** The snapshot serializer: it already round-trips every RunState the journal can hold. */
  static RunList.StateCodec codec(ActorSystem<?> system) {
    Serialization serialization = SerializationExtension.get(system);
    return new RunList.StateCodec() {
      @Override
      public byte[] write(RunState state) {
        return serialization.serialize(state).get();
      }

      @Override
      public RunState read(byte[] bytes) {
        return serialization.deserialize(bytes, RunState.class).get();
      }
    };
  }

  private static final class Handler extends JdbcHandler<EventEnvelope<Object>, JournalSession> {
    private final RunList.StateCodec codec;

    Handler(RunList.StateCodec codec) {
      this.codec = codec;
    }

    @Override
    public void process(JournalSession session, EventEnvelope<Object> envelope) throws Exception {
      // delegations share the slices: only runs are listed
      if (!(envelope.event() instanceof RunEvent event) || !envelope.persistenceId().startsWith(PREFIX)) {
        return;
      }
      String runId = envelope.persistenceId().substring(PREFIX.length());
      RunList.Applied applied = session.withConnection(c -> RunList.apply(c, codec, runId, envelope.sequenceNr(), event));
      if (applied == RunList.Applied.NO_ROW) {
        log.warn("run list: event {} of run {} arrived without the run's row (no RunSubmitted before it); skipped",
            envelope.sequenceNr(), runId);
      }
    }
  }

  /** How far one slice's instance is behind the journal. */
  public record SliceLag(String slice, Long offset, long latest, long pendingEvents, Instant oldestPendingAt) {}

  /**
   * Each slice's stored offset against the newest event of its tag: the events written but not yet
   * in the list, and when the oldest of them was written. A slice never run has no offset.
   */
  public static List<SliceLag> lag(Connection c) throws SQLException {
    List<SliceLag> out = new ArrayList<>();
    for (String tag : JournalTags.all()) {
      Long offset = null;
      // the offset store's names are lower case and quoted (use-lowercase-schema), as the journal's
      try (PreparedStatement s = c.prepareStatement(
          "SELECT \"current_offset\" FROM \"pekko_projection_offset_store\" "
              + "WHERE \"projection_name\" = ? AND \"projection_key\" = ?")) {
        s.setString(1, NAME);
        s.setString(2, tag);
        try (ResultSet r = s.executeQuery()) {
          if (r.next()) {
            offset = Long.parseLong(r.getString(1));
          }
        }
      }
      long from = offset == null ? 0 : offset;
      long latest = 0;
      long pending = 0;
      Instant oldest = null;
      try (PreparedStatement s = c.prepareStatement(
          "SELECT MAX(\"event_id\"), COUNT(*) FROM \"event_tag\" WHERE \"tag\" = ? AND \"event_id\" > ?")) {
        s.setString(1, tag);
        s.setLong(2, from);
        try (ResultSet r = s.executeQuery()) {
          r.next();
          latest = Math.max(from, r.getLong(1));
          pending = r.getLong(2);
        }
      }
      if (pending > 0) {
        try (PreparedStatement s = c.prepareStatement("SELECT MIN(j.\"write_timestamp\") FROM \"event_journal\" j "
            + "JOIN \"event_tag\" t ON t.\"event_id\" = j.\"ordering\" WHERE t.\"tag\" = ? AND t.\"event_id\" > ?")) {
          s.setString(1, tag);
          s.setLong(2, from);
          try (ResultSet r = s.executeQuery()) {
            if (r.next() && r.getObject(1) != null) {
              oldest = Instant.ofEpochMilli(r.getLong(1));
            }
          }
        }
      }
      out.add(new SliceLag(tag, offset, latest, pending, oldest));
    }
    return out;
  }
}
