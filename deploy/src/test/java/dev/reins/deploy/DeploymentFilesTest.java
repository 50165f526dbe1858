package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import dev.reins.protocol.json.ReinsJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * What can be checked of the deployment files without a Docker engine or a Kubernetes cluster:
 * they parse, they say what deploy/README.md says they do, and every {@code REINS_*} variable they
 * set is one the server reads (a misspelt variable is silently ignored by the server, and the
 * node runs on a default).
 *
 * <p>YAML is read with SnakeYAML (which jackson-dataformat-yaml is built on) rather than Jackson's
 * YAML parser: the compose file shares its nodes' settings with anchors and merge keys
 * ({@code <<: *reins}), which compose resolves and Jackson's parser does not.
 */
class DeploymentFilesTest {
  /** The deploy module's directory: Maven runs tests there. */
  private static final Path DEPLOY = Path.of("").toAbsolutePath();
  private static final Path REPOSITORY = DEPLOY.getParent();

  // ---------------------------------------------------------------------------------------------
  // The variables the server reads, and those the files set

  /**
   * Every variable the server reads: the {@code ${?REINS_...}} of application.conf, the
   * {@code ${REINS_...}} of logback.xml, {@code System.getenv("REINS_...")} in any module's code,
   * and what the launcher reads ({@code REINS_JAVA_OPTS}).
   */
  static Set<String> variablesTheServerReads() throws IOException {
    Set<String> names = new TreeSet<>();
    names.addAll(matches(read(DEPLOY.resolve("src/main/resources/application.conf")), "\\$\\{\\?(REINS_[A-Z0-9_]+)\\}"));
    names.addAll(matches(read(DEPLOY.resolve("src/main/resources/logback.xml")), "\\$\\{(REINS_[A-Z0-9_]+)(?::-[^}]*)?\\}"));
    names.addAll(matches(read(DEPLOY.resolve("src/dist/bin/reins")), "\\$\\{?(REINS_[A-Z0-9_]+)"));
    try (Stream<Path> modules = Files.list(REPOSITORY)) {
      for (Path main : modules.map(m -> m.resolve("src/main/java")).filter(Files::isDirectory).toList()) {
        try (Stream<Path> sources = Files.walk(main)) {
          for (Path source : sources.filter(p -> p.toString().endsWith(".java")).toList()) {
            names.addAll(matches(read(source), "getenv\\(\"(REINS_[A-Z0-9_]+)\"\\)"));
          }
        }
      }
    }
    return names;
  }

  @Test
  void theServerReadsTheVariablesItIsKnownToRead() throws IOException {
    // the collection itself works: if a source moved, the check below would pass on nothing
    Set<String> read = variablesTheServerReads();
    for (String name : List.of("REINS_DB_URL", "REINS_SEED_NODES", "REINS_DRAIN_SECONDS", "REINS_LOG_LEVEL", "REINS_JAVA_OPTS",
        "REINS_REMOTE_BIND_HOST", "REINS_UNREADY_DELAY")) {
      assertTrue(read.contains(name), name + " is not among the variables found: " + read);
    }
  }

  @Test
  void everyVariableTheDeploymentFilesSetIsOneTheServerReads() throws IOException {
    Set<String> read = variablesTheServerReads();
    Map<String, Set<String>> setBy = new LinkedHashMap<>();
    setBy.put("deploy/Dockerfile", new TreeSet<>(dockerfileEnv().keySet().stream().filter(n -> n.startsWith("REINS_")).toList()));
    setBy.put("deploy/compose.yaml", composeVariables());
    setBy.put("deploy/k8s", kubernetesVariables());
    setBy.put("deploy/local-cluster.sh", matches(read(DEPLOY.resolve("local-cluster.sh")), "(?<![{\\w])(REINS_[A-Z0-9_]+)="));
    List<String> unknown = new ArrayList<>();
    setBy.forEach((file, names) -> {
      assertFalse(names.isEmpty(), file + " sets no REINS_ variable: the parsing is broken");
      names.stream().filter(n -> !read.contains(n)).forEach(n -> unknown.add(n + " (set in " + file + ")"));
    });
    assertEquals(List.of(), unknown, "variables that no part of the server reads; it reads " + read);
  }

  @Test
  void theReadmeDocumentsWhatTheServerReadsAndNothingElse() throws IOException {
    Set<String> read = variablesTheServerReads();
    String readme = read(REPOSITORY.resolve("README.md"));
    Set<String> inReadme = matches(readme, "(REINS_[A-Z0-9_]+)");
    // what the server sets for jobs, what the command line's client commands read, and what tests read
    inReadme.removeAll(Set.of("REINS_RUN_ID", "REINS_ATTEMPT", "REINS_TOKEN", "REINS_URL", "REINS_TEST_JDBC_URL",
        "REINS_REQUIRE_A2A_PEER"));
    Set<String> stale = new TreeSet<>(inReadme);
    stale.removeAll(read);
    assertEquals(Set.of(), stale, "README.md names variables that the server does not read");
    Set<String> undocumented = new TreeSet<>(read);
    undocumented.removeAll(inReadme);
    assertEquals(Set.of(), undocumented, "variables the server reads that README.md does not mention");
    Set<String> deployReadme = matches(read(DEPLOY.resolve("README.md")), "(REINS_[A-Z0-9_]+)");
    deployReadme.removeAll(read);
    // what the README says Kubernetes would set for the Service named reins without enableServiceLinks: false
    deployReadme.removeAll(Set.of("REINS_SERVICE_HOST", "REINS_PORT"));
    assertEquals(Set.of(), deployReadme, "deploy/README.md names variables that the server does not read");
  }

  // ---------------------------------------------------------------------------------------------
  // Dockerfile

  @Test
  void theDockerfileBuildsANonRootImageWithAHealthCheckFromThePinnedJre() throws IOException {
    List<Instruction> instructions = dockerfile();
    Set<String> known = Set.of("FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
        "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL");
    for (Instruction i : instructions) {
      assertTrue(known.contains(i.keyword()), "not a Dockerfile instruction: " + i);
    }
    List<String> from = arguments(instructions, "FROM");
    assertEquals(1, from.size(), "one stage: " + from);
    assertTrue(from.get(0).matches("eclipse-temurin:17\\.\\d+\\.\\d+_\\d+-jre-\\w+"),
        "the base image is Temurin 17's JRE, pinned to a release: " + from);
    List<String> user = arguments(instructions, "USER");
    assertEquals(1, user.size());
    String uid = user.get(0).split(":")[0];
    assertTrue(uid.matches("\\d+") && Integer.parseInt(uid) > 0,
        "USER is a numeric uid other than root (so that Kubernetes' runAsNonRoot can check it): " + user);
    assertTrue(position(instructions, "USER") > position(instructions, "RUN"), "no RUN after USER needs root");
    assertTrue(arguments(instructions, "COPY").stream().anyMatch(c -> c.contains("deploy/target/reins /opt/reins")),
        "the image is built from the distribution");
    String health = String.join(" ", arguments(instructions, "HEALTHCHECK"));
    assertTrue(health.matches(".*CMD \\[\"reins\", \"health\".*"), "HEALTHCHECK runs reins health: " + health);
    assertEquals(List.of("8080 25520"), arguments(instructions, "EXPOSE"));
    assertEquals(List.of("SIGTERM"), arguments(instructions, "STOPSIGNAL"));
    Map<String, String> env = dockerfileEnv();
    assertEquals("0.0.0.0", env.get("REINS_HTTP_HOST"));
    assertEquals("8080", env.getOrDefault("REINS_HTTP_PORT", "8080"));
    assertEquals("/var/lib/reins", env.get("REINS_DATA_DIR"));
    assertTrue(env.get("PATH").startsWith("/opt/reins/bin:"), "reins is on the PATH: " + env.get("PATH"));
    assertTrue(arguments(instructions, "VOLUME").get(0).contains("/var/lib/reins"));
    String entrypoint = arguments(instructions, "ENTRYPOINT").get(0);
    assertTrue(entrypoint.contains("\"reins\""), entrypoint);
  }

  // ---------------------------------------------------------------------------------------------
  // compose

  @Test
  void composeRunsThreeNodesThatSeedEachOtherAgainstAHealthyPostgres() throws IOException {
    JsonNode compose = yaml(DEPLOY.resolve("compose.yaml")).get(0);
    JsonNode services = compose.get("services");
    JsonNode postgres = services.get("postgres");
    assertNotNull(postgres, "a postgres service");
    assertPinned(postgres.get("image").asText());
    assertFalse(postgres.path("healthcheck").path("test").isMissingNode(), "postgres has a health check");
    List<String> nodes = new ArrayList<>();
    services.fieldNames().forEachRemaining(name -> {
      if (!name.equals("postgres")) {
        nodes.add(name);
      }
    });
    assertEquals(3, nodes.size(), "three Reins nodes: " + nodes);
    String seeds = String.join(",", nodes.stream().map(n -> n + ":25520").toList());
    long drain = ConfigFactory.load().getLong("reins.shutdown.drain-seconds");
    for (String name : nodes) {
      JsonNode node = services.get(name);
      Map<String, String> env = environment(node.get("environment"));
      assertEquals(name, env.get("REINS_REMOTE_HOST"), name + " is reached under its service name");
      assertEquals(seeds, env.get("REINS_SEED_NODES"), name);
      assertEquals("0.0.0.0", env.get("REINS_HTTP_HOST"), name);
      assertTrue(env.get("REINS_DB_URL").startsWith("jdbc:postgresql://postgres:5432/"), name);
      assertTrue(env.get("REINS_ADMIN_TOKEN").startsWith("${REINS_ADMIN_TOKEN:?"),
          "the admin token comes from the environment, required: " + env.get("REINS_ADMIN_TOKEN"));
      assertTrue(env.get("REINS_DB_PASSWORD").startsWith("${REINS_DB_PASSWORD"),
          "the database password comes from the environment: " + env.get("REINS_DB_PASSWORD"));
      drain = Long.parseLong(env.getOrDefault("REINS_DRAIN_SECONDS", Long.toString(drain)));
      Duration grace = ConfigFactory.parseString("d = " + node.get("stop_grace_period").asText()).getDuration("d");
      assertTrue(grace.toSeconds() >= stopTime(drain, env.getOrDefault("REINS_UNREADY_DELAY", "0s")),
          name + ": stop_grace_period " + grace + " leaves the drain no time");
      assertEquals("service_healthy", node.path("depends_on").path("postgres").path("condition").asText(), name);
      for (JsonNode port : node.get("ports")) {
        assertTrue(port.asText().startsWith("127.0.0.1:"), name + " publishes its port on the loopback only: " + port);
      }
      assertTrue(node.get("volumes").get(0).asText().endsWith(":/var/lib/reins"), name + " keeps its data in a volume");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Kubernetes

  @Test
  void theKubernetesManifestsDescribeAThreeNodeStatefulSetWithStableSeeds() throws IOException {
    Map<String, JsonNode> byKind = new LinkedHashMap<>();
    List<JsonNode> services = new ArrayList<>();
    for (JsonNode doc : kubernetesDocuments()) {
      assertTrue(doc.hasNonNull("apiVersion") && doc.hasNonNull("kind") && doc.path("metadata").hasNonNull("name"),
          "every manifest has apiVersion, kind and metadata.name: " + doc);
      assertTrue(doc.path("metadata").path("namespace").isMissingNode(), "no namespace: kubectl -n chooses it: " + doc);
      if (doc.get("kind").asText().equals("Service")) {
        services.add(doc);
      } else {
        assertNull(byKind.put(doc.get("kind").asText(), doc), "one " + doc.get("kind"));
      }
    }
    JsonNode sts = byKind.get("StatefulSet");
    JsonNode pod = sts.path("spec").path("template");
    JsonNode labels = pod.path("metadata").path("labels");
    assertEquals(3, sts.path("spec").path("replicas").asInt());
    assertEquals(labels, sts.path("spec").path("selector").path("matchLabels"));

    JsonNode headless = services.stream().filter(s -> "None".equals(s.path("spec").path("clusterIP").asText())).findFirst()
        .orElseThrow(() -> new AssertionError("a headless service"));
    assertEquals(headless.path("metadata").path("name").asText(), sts.path("spec").path("serviceName").asText(),
        "the pods' DNS names come from the headless service");
    assertTrue(headless.path("spec").path("publishNotReadyAddresses").asBoolean(),
        "seeds are reachable before they are ready (a node is ready only once it is a member)");
    for (JsonNode s : services) {
      assertEquals(labels, s.path("spec").path("selector"), "the service selects the pods");
    }

    JsonNode spec = pod.path("spec");
    assertFalse(spec.path("enableServiceLinks").asBoolean(true),
        "no service links: a Service named reins would put REINS_SERVICE_HOST, REINS_PORT... in the environment");
    assertTrue(spec.path("securityContext").path("runAsNonRoot").asBoolean());
    assertEquals(imageUid(), spec.path("securityContext").path("runAsUser").asInt(), "the image's user");
    JsonNode container = spec.path("containers").get(0);
    assertTrue(container.path("securityContext").path("readOnlyRootFilesystem").asBoolean());
    assertFalse(container.path("securityContext").path("allowPrivilegeEscalation").asBoolean(true));
    assertEquals("/v1/health/ready", container.path("readinessProbe").path("httpGet").path("path").asText());
    assertEquals("/v1/health/live", container.path("livenessProbe").path("httpGet").path("path").asText());
    assertFalse(container.path("startupProbe").isMissingNode(), "a startup probe");
    for (String kind : List.of("requests", "limits")) {
      JsonNode r = container.path("resources").path(kind);
      assertTrue(r.hasNonNull("cpu") && r.hasNonNull("memory"), "resource " + kind + ": " + r);
    }
    Set<String> portNames = new TreeSet<>();
    container.path("ports").forEach(p -> portNames.add(p.path("name").asText()));
    assertEquals(Set.of("http", "remoting"), portNames);
    for (JsonNode s : services) {
      s.path("spec").path("ports").forEach(p -> assertTrue(portNames.contains(p.path("targetPort").asText()), s.toString()));
    }

    // the environment: ConfigMap and Secret by envFrom, the pod's own names by the downward API
    Map<String, String> configMap = strings(byKind.get("ConfigMap").path("data"));
    Map<String, String> secret = strings(byKind.get("Secret").path("stringData"));
    assertEquals(Set.of("REINS_DB_PASSWORD", "REINS_ADMIN_TOKEN"), secret.keySet());
    secret.values().forEach(v -> assertTrue(v.startsWith("CHANGE-ME"), "the example Secret holds placeholders: " + v));
    Set<String> envFrom = new TreeSet<>();
    container.path("envFrom").forEach(e -> {
      envFrom.add(e.path("configMapRef").path("name").asText(""));
      envFrom.add(e.path("secretRef").path("name").asText(""));
    });
    assertTrue(envFrom.containsAll(List.of(byKind.get("ConfigMap").path("metadata").path("name").asText(),
        byKind.get("Secret").path("metadata").path("name").asText())), "envFrom: " + envFrom);
    Map<String, String> env = new LinkedHashMap<>();
    for (JsonNode e : container.path("env")) {
      String value = e.path("value").asText("");
      for (String ref : matches(value, "\\$\\(([A-Z_]+)\\)")) {
        assertTrue(env.containsKey(ref), e.path("name") + " uses $(" + ref + ") before it is defined");
      }
      env.put(e.path("name").asText(), value);
    }
    String headlessName = headless.path("metadata").path("name").asText();
    assertEquals("$(POD_NAME)." + headlessName + ".$(POD_NAMESPACE).svc.cluster.local", env.get("REINS_REMOTE_HOST"));
    String remotePort = configMap.get("REINS_REMOTE_PORT");
    List<String> seeds = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      seeds.add(sts.path("metadata").path("name").asText() + "-" + i + "." + headlessName + ".$(POD_NAMESPACE).svc.cluster.local:"
          + remotePort);
    }
    assertEquals(String.join(",", seeds), env.get("REINS_SEED_NODES"), "the seeds are the pods' stable names");
    assertEquals("0.0.0.0", configMap.get("REINS_HTTP_HOST"));
    assertEquals("0.0.0.0", configMap.get("REINS_REMOTE_BIND_HOST"), "the pod's name resolves only once it is published");
    assertTrue(configMap.containsKey("REINS_UNREADY_DELAY"), "endpoints drop the pod before its listener closes");

    long drain = Long.parseLong(configMap.get("REINS_DRAIN_SECONDS"));
    long grace = spec.path("terminationGracePeriodSeconds").asLong();
    assertTrue(grace >= stopTime(drain, configMap.get("REINS_UNREADY_DELAY")),
        "terminationGracePeriodSeconds " + grace + " leaves the drain no time");

    // the data directory on the claim of each pod
    String claim = sts.path("spec").path("volumeClaimTemplates").get(0).path("metadata").path("name").asText();
    boolean mounted = false;
    for (JsonNode m : container.path("volumeMounts")) {
      mounted |= m.path("name").asText().equals(claim) && m.path("mountPath").asText().equals(dockerfileEnv().get("REINS_DATA_DIR"));
    }
    assertTrue(mounted, "the volume claim is mounted at the image's REINS_DATA_DIR");

    JsonNode pdb = byKind.get("PodDisruptionBudget");
    assertEquals(1, pdb.path("spec").path("maxUnavailable").asInt());
    assertEquals(labels, pdb.path("spec").path("selector").path("matchLabels"));
  }

  @Test
  void theKustomizationListsEveryManifestButTheSecretExample() throws IOException {
    Path k8s = DEPLOY.resolve("k8s");
    JsonNode kustomization = yaml(k8s.resolve("kustomization.yaml")).get(0);
    Set<String> listed = new TreeSet<>();
    kustomization.path("resources").forEach(r -> listed.add(r.asText()));
    Set<String> files = new TreeSet<>();
    try (Stream<Path> s = Files.list(k8s)) {
      s.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml") && !n.equals("secret.example.yaml"))
          .forEach(files::add);
    }
    assertEquals(files, listed);
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  /** The longest a node's SIGTERM may take: unready delay, listener, drain, the capped stop, a margin. */
  private static long stopTime(long drainSeconds, String unreadyDelay) {
    long unready = ConfigFactory.parseString("d = " + unreadyDelay).getDuration("d").toSeconds();
    long stopCap = ConfigFactory.load().getDuration("reins.shutdown.stop-grace-cap").toSeconds();
    return unready + 10 + drainSeconds + stopCap;
  }

  private static void assertPinned(String image) {
    int colon = image.lastIndexOf(':');
    assertTrue(colon > 0 && image.substring(colon + 1).matches(".*\\d+\\.\\d+.*"), "image pinned to a release: " + image);
  }

  private static int imageUid() throws IOException {
    return Integer.parseInt(arguments(dockerfile(), "USER").get(0).split(":")[0]);
  }

  private static Set<String> composeVariables() throws IOException {
    Set<String> names = new TreeSet<>();
    JsonNode compose = yaml(DEPLOY.resolve("compose.yaml")).get(0);
    compose.get("services").forEach(s -> environment(s.get("environment")).keySet().stream()
        .filter(n -> n.startsWith("REINS_")).forEach(names::add));
    return names;
  }

  private static Set<String> kubernetesVariables() throws IOException {
    Set<String> names = new TreeSet<>();
    for (JsonNode doc : kubernetesDocuments()) {
      switch (doc.get("kind").asText()) {
        case "ConfigMap" -> doc.path("data").fieldNames().forEachRemaining(names::add);
        case "Secret" -> {
          doc.path("stringData").fieldNames().forEachRemaining(names::add);
          doc.path("data").fieldNames().forEachRemaining(names::add);
        }
        case "StatefulSet" -> doc.path("spec").path("template").path("spec").path("containers")
            .forEach(c -> c.path("env").forEach(e -> names.add(e.path("name").asText())));
        default -> { }
      }
    }
    names.removeIf(n -> !n.startsWith("REINS_"));
    return names;
  }

  private static List<JsonNode> kubernetesDocuments() throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try (Stream<Path> files = Files.list(DEPLOY.resolve("k8s"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        if (!f.getFileName().toString().equals("kustomization.yaml")) {
          docs.addAll(yaml(f));
        }
      }
    }
    assertTrue(docs.size() >= 6, "the manifests: " + docs.size());
    return docs;
  }

  /** Every document of a YAML file, anchors and merge keys resolved, as JSON trees. */
  static List<JsonNode> yaml(Path file) throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try {
      for (Object doc : new Yaml().loadAll(read(file))) {
        if (doc != null) {
          docs.add(ReinsJson.mapper().valueToTree(doc));
        }
      }
    } catch (RuntimeException e) {
      fail(file + " is not valid YAML: " + e.getMessage());
    }
    assertFalse(docs.isEmpty(), file + " has no document");
    return docs;
  }

  /** A compose {@code environment}: a map, or a list of {@code NAME=value}. */
  private static Map<String, String> environment(JsonNode env) {
    Map<String, String> out = new LinkedHashMap<>();
    if (env == null) {
      return out;
    }
    if (env.isArray()) {
      env.forEach(e -> {
        String s = e.asText();
        int eq = s.indexOf('=');
        out.put(eq < 0 ? s : s.substring(0, eq), eq < 0 ? "" : s.substring(eq + 1));
      });
    } else {
      out.putAll(strings(env));
    }
    return out;
  }

  private static Map<String, String> strings(JsonNode map) {
    Map<String, String> out = new LinkedHashMap<>();
    map.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
    return out;
  }

  /** One Dockerfile instruction, continuation lines joined. */
  record Instruction(String keyword, String arguments) {}

  static List<Instruction> dockerfile() throws IOException {
    List<Instruction> out = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : read(DEPLOY.resolve("Dockerfile")).split("\n")) {
      String trimmed = line.strip();
      if (current.length() == 0 && (trimmed.isEmpty() || trimmed.startsWith("#"))) {
        continue;
      }
      if (trimmed.startsWith("#")) {
        continue; // a comment between continuation lines
      }
      if (trimmed.endsWith("\\")) {
        current.append(trimmed, 0, trimmed.length() - 1).append(' ');
        continue;
      }
      current.append(trimmed);
      String text = current.toString().strip();
      current.setLength(0);
      int space = text.indexOf(' ');
      out.add(new Instruction(text.substring(0, space).toUpperCase(java.util.Locale.ROOT), text.substring(space + 1).strip()));
    }
    assertEquals(0, current.length(), "the Dockerfile ends inside a continuation");
    return out;
  }

  /** The image's environment: every ENV instruction's NAME=value pairs (quotes removed). */
  static Map<String, String> dockerfileEnv() throws IOException {
    Map<String, String> env = new LinkedHashMap<>();
    Matcher m = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\\S*)").matcher("");
    for (String args : arguments(dockerfile(), "ENV")) {
      m.reset(args);
      while (m.find()) {
        env.put(m.group(1), m.group(2).replaceAll("^\"|\"$", ""));
      }
    }
    return env;
  }

  private static List<String> arguments(List<Instruction> instructions, String keyword) {
    return instructions.stream().filter(i -> i.keyword().equals(keyword)).map(Instruction::arguments).toList();
  }

  private static int position(List<Instruction> instructions, String lastOf) {
    int at = -1;
    for (int i = 0; i < instructions.size(); i++) {
      if (instructions.get(i).keyword().equals(lastOf)) {
        at = i;
      }
    }
    return at;
  }

  static Set<String> matches(String text, String regex) {
    Set<String> out = new TreeSet<>();
    Matcher m = Pattern.compile(regex).matcher(text);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  private static String read(Path file) throws IOException {
    assertTrue(Files.isRegularFile(file), file + " exists");
    return Files.readString(file, StandardCharsets.UTF_8);
  }
}
