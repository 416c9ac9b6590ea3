// The hello handler on Node's cluster module: one worker per CPU, the
// primary handing connections round-robin. Usage: node node-cluster.js PORT
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');

const port = Number(process.argv[2] || 8082);

if (cluster.isPrimary) {
  for (let i = 0; i < os.availableParallelism(); i++) cluster.fork();
} else {
  http.createServer((req, res) => {
    res.setHeader('X-Hello', 'wasmcluster');
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    if (req.method === 'POST') {
      req.pipe(res);
      return;
    }
    const path = req.url.split('?')[0];
    res.end('Hello from wasmcluster: ' + path + '\n');
  }).listen(port, '127.0.0.1');
}
