package dev.reins.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.reins.protocol.json.ReinsJson;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.delegation.DelegationEvent;
import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.delegation.DelegationSpec;
import dev.reins.protocol.delegation.DelegationState;
import dev.reins.protocol.delegation.DelegationStatus;
import dev.reins.protocol.delegation.DelegationTarget;
import dev.reins.protocol.run.ProcessSpec;
import dev.reins.protocol.run.RetryPolicy;
import dev.reins.protocol.run.RunEvent;
import dev.reins.protocol.run.RunSpec;
import dev.reins.protocol.run.RunState;
import dev.reins.protocol.run.WorkerInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Journals written by this version of Reins stay readable: {@code journal-fixtures/v1} holds, for
 * every event type and both snapshot types, the bytes the journal stores for one example (written
 * by this version's serializers and committed as data). Each must deserialize, through the
 * journal's own serialization settings, to the example. A change that breaks reading them (a
 * renamed field or type name, a changed enum spelling) fails here; such a change needs a Jackson
 * migration, not a new fixture. A new event type needs a fixture: run this test once with
 * {@code -Dreins.fixtures.write=true} to write the missing ones, read them, and commit them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JournalFixturesTest {
  private static final Path FIXTURES = Path.of("src/test/resources/journal-fixtures/v1");
  private static final Instant T0 = Instant.parse("2026-11-22T06:00:00.123456Z");
  private static final String RUN = "3f0c5e2a-8d4b-4c1e-9a7f-2b6d1e0c9a11";
  private static final String CHILD = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  private static final String DELEGATION = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";

  private ActorSystem<Void> system;
  private Serialization serialization;

  @BeforeAll
  void start() {
    system = ActorSystem.create(Behaviors.empty(), "fixtures", ConfigFactory.load());
    serialization = SerializationExtension.get(system);
  }

  @AfterAll
  void stop() {
    system.terminate();
  }

  /** One example of everything the journal and the snapshot store hold, by the name of its file. */
  static Map<String, Object> examples() {
    RunSpec spec = new RunSpec(new ProcessSpec(List.of("sh", "-c", "echo hi"), Map.of("MODE", "fast"), "/srv/work"),
        3600, 10, new RetryPolicy(3, 5), Map.of("team", "search"), "nightly-2026-11-22");
    WorkerInfo worker = new WorkerInfo("pekko://reins@10.0.0.7:25520", 4242, "pekko://reins@10.0.0.7:25520/user/node/worker-pool/w-1");
    DelegationSpec childSpec = new DelegationSpec(
        new DelegationTarget.Run(new ProcessSpec(List.of("./child.sh"), Map.of(), null), 600), 900,
        DelegationSpec.OnParentEnd.CANCEL, "child-1");
    DelegationSpec a2aSpec = new DelegationSpec(
        new DelegationTarget.A2a("https://agent.example.com/a2a",
            new DelegationTarget.Message("summarize", JsonNodeFactory.instance.objectNode().put("pages", 3))),
        300, DelegationSpec.OnParentEnd.ABANDON, null);
    Map<String, Object> all = new LinkedHashMap<>();
    all.put("RunSubmitted", new RunEvent.RunSubmitted(RUN, spec, 1, T0, "acme", null, null));
    all.put("RunSubmitted-child", new RunEvent.RunSubmitted(CHILD, spec, 1, T0, "acme", RUN, DELEGATION));
    all.put("AttemptPlaced", new RunEvent.AttemptPlaced(1, new WorkerInfo(worker.node(), 0, worker.workerRef()), T0.plusSeconds(1)));
    all.put("AttemptStarted", new RunEvent.AttemptStarted(1, worker, T0.plusSeconds(2)));
    all.put("AttemptStartFailed", new RunEvent.AttemptStartFailed(1, "cannot run ./x: No such file or directory", T0.plusSeconds(2)));
    all.put("AttemptExited", new RunEvent.AttemptExited(1, 3, null, T0.plusSeconds(3)));
    all.put("AttemptExited-signal", new RunEvent.AttemptExited(1, null, "SIGKILL", T0.plusSeconds(3)));
    all.put("WorkerLost", new RunEvent.WorkerLost(1, worker.node(), T0.plusSeconds(3)));
    all.put("AttemptInterrupted", new RunEvent.AttemptInterrupted(1, "node_shutdown", null, "SIGTERM", T0.plusSeconds(3)));
    all.put("CancelRequested", new RunEvent.CancelRequested(2, "user asked", T0.plusSeconds(4)));
    all.put("TimeoutReached", new RunEvent.TimeoutReached(2, T0.plusSeconds(4)));
    all.put("RunReset", new RunEvent.RunReset(3, T0.plusSeconds(5)));
    all.put("DelegationRequested", new RunEvent.DelegationRequested(DELEGATION, childSpec, T0.plusSeconds(906), 1, T0.plusSeconds(6)));
    all.put("DelegationEnded", new RunEvent.DelegationEnded(DELEGATION, DelegationStatus.FAILED, "child_failed", 1, T0.plusSeconds(7)));
    all.put("DelegationCreated", new DelegationEvent.DelegationCreated(DELEGATION, RUN, "acme", a2aSpec, T0.plusSeconds(306), T0.plusSeconds(6)));
    all.put("RemoteTaskStarted", new DelegationEvent.RemoteTaskStarted("task-99", "submitted", T0.plusSeconds(7)));
    all.put("RemoteStateChanged", new DelegationEvent.RemoteStateChanged("working", T0.plusSeconds(8)));
    all.put("DelegationCompleted", new DelegationEvent.DelegationCompleted(new DelegationResult(
        List.of(new DelegationResult.Part("summary", "three pages", null),
            new DelegationResult.Part("summary", null, JsonNodeFactory.instance.objectNode().put("words", 120))),
        new DelegationResult.ChildOutcome(CHILD, "succeeded", 0, null), false), T0.plusSeconds(9)));
    all.put("DelegationFailed", new DelegationEvent.DelegationFailed("peer_unreachable", "connection refused", T0.plusSeconds(9)));
    all.put("DelegationCancelRequested", new DelegationEvent.DelegationCancelRequested("parent_cancelled", T0.plusSeconds(9)));
    all.put("DelegationCancelled", new DelegationEvent.DelegationCancelled("the peer confirmed", T0.plusSeconds(10)));
    all.put("DelegationTimedOut", new DelegationEvent.DelegationTimedOut("remote task cancelled", T0.plusSeconds(306)));
    all.put("ParentInformed", new DelegationEvent.ParentInformed(T0.plusSeconds(11)));
    RunState run = RunState.EMPTY;
    for (String name : List.of("RunSubmitted", "AttemptPlaced", "AttemptStarted", "DelegationRequested")) {
      run = run.apply((RunEvent) all.get(name));
    }
    all.put("snapshot-RunState", run);
    DelegationState delegation = DelegationState.EMPTY;
    for (String name : List.of("DelegationCreated", "RemoteTaskStarted", "RemoteStateChanged", "DelegationCompleted")) {
      delegation = delegation.apply((DelegationEvent) all.get(name));
    }
    all.put("snapshot-DelegationState", delegation);
    return all;
  }

  @Test
  void everyFixtureDeserializesToItsExample() throws Exception {
    boolean write = Boolean.getBoolean("reins.fixtures.write");
    List<String> missing = new ArrayList<>();
    for (Map.Entry<String, Object> example : examples().entrySet()) {
      Path file = FIXTURES.resolve(example.getKey() + ".json");
      Serializer serializer = serialization.findSerializerFor(example.getValue());
      if (!Files.exists(file)) {
        if (write) {
          Files.createDirectories(FIXTURES);
          Files.write(file, serializer.toBinary(example.getValue()));
        } else {
          missing.add(file.toString());
        }
        continue;
      }
      // the journal stores the serializer's id and an empty manifest (no class names: see reference.conf)
      assertEquals("", Serializers.manifestFor(serializer, example.getValue()), "manifest of " + example.getKey());
      Object read = serialization.deserialize(Files.readAllBytes(file), serializer.identifier(), "").get();
      assertEquals(example.getValue().getClass(), read.getClass(), file.toString());
      // compared as JSON written again: a JSON null in a JsonNode field reads back as a NullNode,
      // which is not equal to the example's null but means the same; a field that is no longer
      // read (renamed, retyped) is missing from the tree and fails
      assertEquals(tree(serializer, example.getValue()), tree(serializer, read), file + " no longer reads as the event it holds");
    }
    if (!missing.isEmpty()) {
      fail("no fixture for " + missing + ": run with -Dreins.fixtures.write=true, check the files, commit them");
    }
  }

  private static JsonNode tree(Serializer serializer, Object value) throws Exception {
    return ReinsJson.mapper().readTree(serializer.toBinary(value));
  }

  /** Every stored type name has a fixture: a new event type cannot be forgotten. */
  @Test
  void everyEventTypeHasAFixture() {
    Set<String> names = new TreeSet<>();
    for (Class<?> type : List.of(RunEvent.class, DelegationEvent.class)) {
      Arrays.stream(type.getAnnotation(JsonSubTypes.class).value()).map(JsonSubTypes.Type::name).forEach(names::add);
    }
    Set<String> covered = examples().keySet().stream().map(k -> k.split("-")[0]).collect(Collectors.toSet());
    names.removeAll(covered);
    assertTrue(names.isEmpty(), "event types without a journal fixture: " + names);
  }
}
