// Starts the npm package telegram-test-api (a Bot API emulator) for formbot's end-to-end tests
// and benchmark, after correcting the answers python-telegram-bot 22 refuses.
//
//   FORMBOT_E2E_NODE_MODULES=.cache/e2e/node_modules node tests/e2e/emulator.js PORT
//
// Prints "listening PORT" on stdout once the server accepts connections.
//
// The shims patch the package's exports (route list, prototype, static method) before the
// server is built; none of the package's code is copied here. Measured with
// telegram-test-api 4.2.1 and python-telegram-bot 22.x:
//  1. getMe answers without `is_bot`; PTB's User needs it ("missing is_bot").
//  2. The Message the bot gets back from sendMessage has `date` in milliseconds
//     (it is the storage time stamp); PTB converts dates to datetime and fails with
//     "year ... is out of range". Telegram dates are Unix seconds.
//  3. callback_query updates lack `chat_instance`, which PTB's CallbackQuery requires.
//  4. editMessageText and editMessageReplyMarkup answer `result: null`; the Bot API answers
//     the edited Message or `true`, and PTB fails on null. The bot edits the keyboard of
//     every pressed button, so this one matters as soon as a button is pressed and edited.
'use strict';

const path = require('path');

const modules = process.env.FORMBOT_E2E_NODE_MODULES;
if (!modules) {
  console.error('FORMBOT_E2E_NODE_MODULES is not set (run .ci/run, which installs the emulator)');
  process.exit(2);
}
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node emulator.js PORT');
  process.exit(2);
}

const lib = path.join(modules, 'telegram-test-api', 'lib');
const TelegramServer = require(lib);
const { routes } = require(path.join(lib, 'routes', 'index'));
const { getMe } = require(path.join(lib, 'routes', 'bot', 'getMe'));
const { editMessageText } = require(path.join(lib, 'routes', 'bot', 'editMessageText'));
const { editMessageReplyMarkup } = require(
  path.join(lib, 'routes', 'bot', 'editMessageReplyMarkup'),
);

// Wraps a route so that whatever its handler passes to res.sendResult goes through `fix`
// first. The route registers itself on a proxy of the express app whose handlers are wrapped.
function fixResult(route, fix) {
  return (app, server) => {
    const wrap = (handler) => (req, res, next) => {
      const send = res.sendResult;
      res.sendResult = (data) => send(fix(data));
      return handler(req, res, next);
    };
    const proxy = new Proxy(app, {
      get(target, name) {
        if (name === 'all' || name === 'post' || name === 'get') {
          return (routePath, handler) => target[name](routePath, wrap(handler));
        }
        const value = target[name];
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    route(proxy, server);
  };
}

function replaceRoute(original, replacement) {
  const index = routes.indexOf(original);
  if (index < 0) throw new Error('telegram-test-api route not found; check the pinned version');
  routes[index] = replacement;
}

// Shim 1: getMe gets `is_bot: true` (and keeps the emulator's id, name and username).
replaceRoute(getMe, fixResult(getMe, (data) => ({
  ...data, result: { is_bot: true, ...data.result },
})));

// Shim 2: the Message returned by sendMessage carries `date` in seconds.
const addBotMessage = TelegramServer.prototype.addBotMessage;
TelegramServer.prototype.addBotMessage = function addBotMessageInSeconds(...args) {
  const message = addBotMessage.apply(this, args);
  if (message.date > 1e11) message.date = Math.floor(message.date / 1000);
  return message;
};

// Shim 3: callback queries carry `chat_instance` (Telegram's id for the chat the button was in).
const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = function formatUpdateWithChatInstance(update) {
  const formatted = formatUpdate.call(this, update);
  const query = formatted.callback_query;
  if (query && query.chat_instance === undefined) {
    const chat = query.message && query.message.chat;
    query.chat_instance = String(chat ? chat.id : query.from.id);
  }
  return formatted;
};

// Shim 4: the edit methods answer `true` instead of null.
const trueForNull = (data) => (data.result === null ? { ...data, result: true } : data);
replaceRoute(editMessageText, fixResult(editMessageText, trueForNull));
replaceRoute(editMessageReplyMarkup, fixResult(editMessageReplyMarkup, trueForNull));

// Keep unread messages for an hour (the default, 60 s, is shorter than a slow CI run).
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 3600 });
server.start().then(
  () => console.log(`listening ${port}`),
  (error) => {
    console.error(`cannot listen on ${port}: ${error.message}`);
    process.exit(1);
  },
);

const stop = () => server.stop().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
