import { z } from 'zod';
import { PermanentSendError } from '../channels/adapter.js';
import { httpError, requestJson } from '../channels/http/http-json.js';

export interface LlmSettings {
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  maxTokens: number;
  timeoutMs: number;
}

export interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

export interface Completion {
  text: string;
  promptTokens: number;
  completionTokens: number;
}

const completionAnswer = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }).optional(),
});

/**
 * An OpenAI-compatible chat-completions client (`POST {base}/chat/completions`): the key as a
 * bearer token, `max_tokens` bounded, the answer and its token usage returned.
 */
export function llmClient(settings: LlmSettings) {
  const url = `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  return {
    maxTokens: settings.maxTokens,
    async complete(messages: ChatMessage[], signal: AbortSignal): Promise<Completion> {
      const response = await requestJson({
        provider: 'llm',
        method: 'POST',
        url,
        headers: settings.apiKey === undefined ? {} : { authorization: `Bearer ${settings.apiKey}` },
        body: { model: settings.model, messages, max_tokens: settings.maxTokens, temperature: 0.7, n: 1 },
        timeoutMs: settings.timeoutMs,
        signal,
      });
      if (response.status < 200 || response.status >= 300) throw httpError('llm', response);
      const parsed = completionAnswer.safeParse(response.body);
      if (!parsed.success) throw new PermanentSendError(`llm answered ${response.status} with an unexpected body`);
      return {
        text: parsed.data.choices[0]?.message.content ?? '',
        promptTokens: parsed.data.usage?.prompt_tokens ?? 0,
        completionTokens: parsed.data.usage?.completion_tokens ?? 0,
      };
    },
  };
}

export type LlmClient = ReturnType<typeof llmClient>;

/**
 * An upper estimate of the tokens a prompt uses: no tokenizer maps fewer than ~3 bytes of text
 * to a token on ordinary prose, plus a few per message for the chat framing.
 */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, message) => sum + Math.ceil(Buffer.byteLength(message.content) / 3) + 8, 0);
}
