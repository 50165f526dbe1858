package dev.reins.persistence.runlist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.reins.persistence.Connections;
import dev.reins.persistence.JournalSchema;
import dev.reins.persistence.TestDatabases;
import dev.reins.persistence.TestDatabases.TestDatabase;
import dev.reins.protocol.api.RunPage;
import dev.reins.protocol.api.RunSummary;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.RunStatus;
import dev.reins.protocol.run.WorkerInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the projection's rows follow a run's events, and how pages are cut (no actor system: the SQL alone). */
class RunListStoreTest {
  private static final Instant T0 = Instant.parse("2026-11-22T06:00:00.000000123Z");

  /** Keeps states in memory: the bytes are a key (the server uses the snapshot serializer). */
  private static final class MemoryCodec implements RunList.StateCodec {
    private final Map<Long, RunState> states = new ConcurrentHashMap<>();
    private final AtomicLong next = new AtomicLong();

    @Override
    public byte[] write(RunState state) {
      long key = next.incrementAndGet();
      states.put(key, state);
      return ByteBuffer.allocate(8).putLong(key).array();
    }

    @Override
    public RunState read(byte[] bytes) {
      return states.get(ByteBuffer.wrap(bytes).getLong());
    }
  }

  private final MemoryCodec codec = new MemoryCodec();

  private static RunEvent.RunSubmitted submitted(String runId, Instant at, String tenant, Map<String, String> labels) {
    RunSpec spec = new RunSpec(new ProcessSpec(List.of("true"), Map.of(), null), 60, 1, new RetryPolicy(1, 1), labels, null);
    return new RunEvent.RunSubmitted(runId, spec, 1, at, tenant);
  }

  @Test
  void aRowFollowsItsRunsEventsOnceEachAndStartsAfreshOnARebuild(@TempDir Path tmp) throws Exception {
    try (TestDatabase db = TestDatabases.fresh(TestDatabases.Backend.H2, tmp)) {
      JournalSchema.createIfMissing(db.journal());
      try (Connection c = Connections.direct(db.journal()).open()) {
        String run = "00000000-0000-4000-8000-000000000001";
        RunEvent started = new RunEvent.AttemptStarted(1, new WorkerInfo("n", 7, "w"), T0.plusSeconds(1));
        assertEquals(RunList.Applied.NO_ROW, RunList.apply(c, codec, run, 2, started));
        assertEquals(RunList.Applied.WRITTEN, RunList.apply(c, codec, run, 1, submitted(run, T0, "acme", Map.of("team", "a"))));
        assertEquals(RunList.Applied.WRITTEN, RunList.apply(c, codec, run, 2, started));
        assertEquals(RunList.Applied.ALREADY_APPLIED, RunList.apply(c, codec, run, 2, started));
        RunSummary row = RunList.get(c, run).orElseThrow();
        assertEquals(new RunSummary(run, "acme", RunStatus.RUNNING, 1, Map.of("team", "a"), null, T0, T0.plusSeconds(1), 2), row);

        // a rebuild re-reads the run from its first event: the row starts again and ends the same
        assertEquals(RunList.Applied.WRITTEN, RunList.apply(c, codec, run, 1, submitted(run, T0, "acme", Map.of("team", "a"))));
        assertEquals(RunStatus.PENDING, RunList.get(c, run).orElseThrow().state());
        RunList.apply(c, codec, run, 2, started);
        assertEquals(row, RunList.get(c, run).orElseThrow());
      }
    }
  }

  @Test
  void pagesFollowCreationOrderAndTheirCursorsAcrossEqualTimes(@TempDir Path tmp) throws Exception {
    try (TestDatabase db = TestDatabases.fresh(TestDatabases.Backend.H2, tmp)) {
      JournalSchema.createIfMissing(db.journal());
      try (Connection c = Connections.direct(db.journal()).open()) {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          String run = "00000000-0000-4000-8000-00000000001" + i;
          // pairs created at the same instant: the run id breaks the tie
          RunList.apply(c, codec, run, 1, submitted(run, T0.plusSeconds(i / 2), i % 3 == 0 ? "other" : "acme", Map.of()));
          if (i % 3 != 0) {
            expected.add(run);
          }
        }
        List<String> seen = new ArrayList<>();
        RunList.Cursor cursor = null;
        do {
          RunPage page = RunList.page(c, new RunList.Query("acme", null, Map.of(), null, null, cursor, 2));
          page.runs().forEach(r -> seen.add(r.id()));
          cursor = page.next() == null ? null : RunList.Cursor.decode(page.next()).orElseThrow();
        } while (cursor != null);
        assertEquals(expected, seen);
        RunPage all = RunList.page(c, new RunList.Query("acme", null, Map.of(), null, null, null, 1000));
        assertEquals(expected.size(), all.runs().size());
        assertNull(all.next());
      }
    }
  }
}
