package ragpipe.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.confluent.parallelconsumer.ParallelConsumerOptions;
import io.confluent.parallelconsumer.ParallelConsumerOptions.CommitMode;
import io.confluent.parallelconsumer.ParallelConsumerOptions.ProcessingOrder;
import io.confluent.parallelconsumer.ParallelStreamProcessor;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Confluent Parallel Consumer in KEY ordering: documents.parsed → one embedding request per batch to an
 * OpenAI-compatible endpoint → chunks.embedded. Usage: BROKERS GROUP IN OUT GPU_URL BATCH CONCURRENCY [LOAD_FACTOR].
 *
 * <p>The output value keeps the input's tenant_id, doc_id, doc_version, chunk_index and chunk_count fields
 * (1–5) and adds the vector as field 11, as ragpipe's ChunkEmbedded does.
 */
public final class Main {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String brokers = args[0], group = args[1], in = args[2], out = args[3], gpu = args[4];
    int batch = Integer.parseInt(args[5]), concurrency = Integer.parseInt(args[6]);
    int loadFactor = args.length > 7 ? Integer.parseInt(args[7]) : 2;

    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10000");
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    pp.put(ProducerConfig.LINGER_MS_CONFIG, "2");
    pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    var consumer = new KafkaConsumer<byte[], byte[]>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    var producer = new KafkaProducer<byte[], byte[]>(pp, new ByteArraySerializer(), new ByteArraySerializer());

    var options = ParallelConsumerOptions.<byte[], byte[]>builder()
        .ordering(ProcessingOrder.KEY)
        .maxConcurrency(concurrency)
        .batchSize(batch)
        .initialLoadFactor(loadFactor)
        .maximumLoadFactor(Math.max(loadFactor, 100))
        .commitMode(CommitMode.PERIODIC_CONSUMER_ASYNCHRONOUS)
        .consumer(consumer)
        .producer(producer)
        .build();
    var pc = ParallelStreamProcessor.createEosStreamProcessor(options);
    pc.subscribe(List.of(in));

    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    URI uri = URI.create(gpu.replaceAll("/+$", "") + "/embeddings");
    var batches = new java.util.concurrent.atomic.AtomicLong();
    var records = new java.util.concurrent.atomic.AtomicLong();
    pc.pollAndProduceMany(ctx -> {
      List<ConsumerRecord<byte[], byte[]>> recs = ctx.getConsumerRecordsFlattened();
      batches.incrementAndGet();
      records.addAndGet(recs.size());
      List<String> texts = new ArrayList<>(recs.size());
      for (var r : recs) texts.add(text(r.value()));
      List<float[]> vecs = embed(http, uri, texts);
      List<ProducerRecord<byte[], byte[]>> outs = new ArrayList<>(recs.size());
      for (int i = 0; i < recs.size(); i++) {
        var r = recs.get(i);
        outs.add(new ProducerRecord<>(out, r.partition(), r.key(), embedded(r.value(), vecs.get(i))));
      }
      return outs;
    }, result -> {});

    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      pc.closeDrainFirst(Duration.ofSeconds(10));
      long b = batches.get();
      System.err.printf("pc-baseline: %d batches, %d records, %.1f records per batch%n", b, records.get(), b == 0 ? 0.0 : (double) records.get() / b);
      stop.countDown();
    }));
    stop.await();
  }

  /** One embedding request, retried until it succeeds (the process is stopped from outside). */
  static List<float[]> embed(HttpClient http, URI uri, List<String> texts) {
    long backoff = 50;
    while (true) {
      try {
        byte[] body = JSON.writeValueAsBytes(Map.of("model", "gpusim", "input", texts));
        var req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        var resp = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
        if (resp.statusCode() == 200) {
          JsonNode data = JSON.readTree(resp.body()).get("data");
          List<float[]> vecs = new ArrayList<>(texts.size());
          for (int i = 0; i < texts.size(); i++) vecs.add(null);
          for (JsonNode d : data) {
            JsonNode e = d.get("embedding");
            float[] v = new float[e.size()];
            for (int j = 0; j < v.length; j++) v[j] = (float) e.get(j).asDouble();
            vecs.set(d.get("index").asInt(), v);
          }
          if (data.size() == texts.size()) return vecs;
        }
      } catch (Exception ignored) {
        // retried below
      }
      try {
        Thread.sleep(backoff);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RuntimeException(e);
      }
      backoff = Math.min(2 * backoff, 2000);
    }
  }

  static long varint(ByteBuffer b) {
    long x = 0;
    for (int s = 0; ; s += 7) {
      int c = b.get() & 0xff;
      x |= (long) (c & 0x7f) << s;
      if (c < 0x80) return x;
    }
  }

  /** Field 6 (text) of a ChunkParsed. */
  static String text(byte[] v) {
    ByteBuffer b = ByteBuffer.wrap(v);
    while (b.hasRemaining()) {
      long tag = varint(b);
      int num = (int) (tag >>> 3), typ = (int) (tag & 7);
      if (typ == 2) {
        int n = (int) varint(b);
        if (num == 6) return new String(v, b.position(), n, StandardCharsets.UTF_8);
        b.position(b.position() + n);
      } else if (typ == 0) varint(b);
      else if (typ == 1) b.position(b.position() + 8);
      else if (typ == 5) b.position(b.position() + 4);
      else throw new IllegalArgumentException("wire type " + typ);
    }
    return "";
  }

  /** Fields 1–5 of the input, copied, then the vector as packed field 11. */
  static byte[] embedded(byte[] v, float[] vec) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(v.length + 4 * vec.length + 8);
    ByteBuffer b = ByteBuffer.wrap(v);
    while (b.hasRemaining()) {
      int start = b.position();
      long tag = varint(b);
      int num = (int) (tag >>> 3), typ = (int) (tag & 7);
      if (typ == 2) {
        int n = (int) varint(b);
        b.position(b.position() + n);
      } else if (typ == 0) varint(b);
      else if (typ == 1) b.position(b.position() + 8);
      else if (typ == 5) b.position(b.position() + 4);
      if (num >= 1 && num <= 5) out.write(v, start, b.position() - start);
    }
    ByteBuffer f = ByteBuffer.allocate(4 * vec.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : vec) f.putFloat(x);
    writeVarint(out, (11 << 3) | 2);
    writeVarint(out, 4L * vec.length);
    out.write(f.array(), 0, f.capacity());
    return out.toByteArray();
  }

  static void writeVarint(ByteArrayOutputStream out, long x) {
    while ((x & ~0x7fL) != 0) {
      out.write((int) ((x & 0x7f) | 0x80));
      x >>>= 7;
    }
    out.write((int) x);
  }
}
