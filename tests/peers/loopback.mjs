// Node preload (`node --import ./loopback.mjs server.js`) that keeps a server
// on loopback: server-everything's HTTP mode listens on all interfaces, and the
// peer tests must never expose it beyond 127.0.0.1.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
    const [first, second] = args;
    if (first !== null && typeof first === "object" && !Array.isArray(first)) {
        // listen({ port, host, ... }, callback?)
        if (first.path === undefined) args[0] = { ...first, host: "127.0.0.1" };
    } else if (typeof first === "number" || /^\d+$/.test(String(first))) {
        // listen(port, [host], [backlog], [callback])
        if (typeof second === "string") args[1] = "127.0.0.1";
        else args.splice(1, 0, "127.0.0.1");
    }
    return listen.apply(this, args);
};
