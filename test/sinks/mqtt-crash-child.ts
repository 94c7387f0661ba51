// A vigil MQTT sink in its own process, for the last-will test: it prints `up` once connected,
// then the test SIGKILLs it, so the broker (not vigil) has to say `offline`.
import { createMqttSink } from '../../src/sinks/mqtt.js';
import { parseSinksOptions } from '../../src/sinks/options.js';

const { mqtt } = parseSinksOptions({ mqtt: { url: process.argv[2], clientId: 'vigil-crash', discovery: false } });
const sink = createMqttSink({ options: mqtt!, cameras: () => [] });
const timer = setInterval(() => {
  if (sink.state() === 'up') {
    clearInterval(timer);
    process.stdout.write('up\n');
  }
}, 20);
