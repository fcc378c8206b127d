import type { DiscordMessage, FakeDiscord } from '../fakes/discord-server.ts';

/** The bot's messages in a channel or thread, oldest first (deleted ones left out). */
export const botMessagesIn = (fake: FakeDiscord, channelId: string, botId: string) =>
  fake.messages.filter(
    (message) => message.channel_id === channelId && message.author.id === botId && !message.deleted,
  );

/** The answer parts (messages without embeds) among `messages`. */
export const answerParts = (messages: DiscordMessage[]) =>
  messages.filter((message) => !message.embeds?.length);

/** The sources message (the one with an embed) among `messages`. */
export const sourcesIn = (messages: DiscordMessage[]) => messages.find((message) => message.embeds?.length);

/** The content and mentions of a message that mentions the bot. */
export const mentionOf = (botId: string, text: string) => ({
  content: `<@${botId}> ${text}`,
  mentions: [{ id: botId, username: 'supportbot' }],
});

/** The `data` of an `/ask question:…` application command interaction. */
export const askCommandData = (question: string) => ({
  id: '800000000000000001',
  name: 'ask',
  type: 1,
  options: [{ name: 'question', type: 3, value: question }],
});
