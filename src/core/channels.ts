import { z } from 'zod';

/** The channels a campaign step sends on. */
export const channels = ['email', 'linkedin', 'x', 'instagram'] as const;
export const channelSchema = z.enum(channels);
export type Channel = z.infer<typeof channelSchema>;

/** The platforms the content calendar publishes posts on. */
export const socialPlatforms = ['linkedin', 'x', 'instagram'] as const satisfies readonly Channel[];
export type SocialPlatform = (typeof socialPlatforms)[number];
