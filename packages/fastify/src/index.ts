import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import {
  createAdminHandler,
  createTripwire,
  type AdminHandler,
  type AnswerHeaders,
  type TripwireController,
  type TripwireOptions,
} from '@tripwire/core'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Tripwire controller: programmatic captures, status, close. */
    tripwire: TripwireController
  }
  interface FastifyContextConfig {
    /** `false` turns the signed-header trigger off for this route. */
    tripwire?: boolean
  }
}

/** Plugin options: Tripwire's own options, or a controller made with `createTripwire()` to share. */
export type TripwirePluginOptions = TripwireOptions | { controller: TripwireController }

const ADMIN_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

const plugin: FastifyPluginAsync<TripwirePluginOptions> = async (fastify, options) => {
  const owned = !('controller' in options)
  const controller = 'controller' in options ? options.controller : createTripwire(options)
  fastify.decorate('tripwire', controller)

  // with admin.listen the controller serves the admin API on its own listener, not on this server
  if (controller.config.admin !== false && controller.config.admin.listen === undefined) {
    await registerAdminRoutes(fastify, controller.config.admin.prefix, createAdminHandler(controller))
  }

  // One hook: an onResponse hook of its own would cost each request Fastify's hook dispatch, measured at a few
  // per cent of a tiny handler's throughput, where timing the raw response costs a 'close' listener
  fastify.addHook('onRequest', (request, reply, done) => {
    // Fastify builds routeOptions anew on every read: read once, and time the response against the route's
    // own config, which holds its url
    const config = request.routeOptions.config
    if (config.tripwire === false) return done()
    controller.responseTiming.start(request.raw, reply.raw, configUrl, config)
    const pending = controller.headerTrigger.beforeRequest(
      request.raw,
      reply.raw,
      routeUrl,
      reply,
      refusalHeaders,
    )
    if (pending === undefined) return done()
    void pending.then(() => done())
  })

  // fastify.close() stores a running capture, unless the controller belongs to someone else
  if (owned) fastify.addHook('onClose', () => controller.close())
}

/** The route template Fastify matched (`/users/:id`), never the raw URL. */
function routeUrl(reply: FastifyReply): string | undefined {
  return reply.request.routeOptions.url
}

/** The same, from the matched route's config (`undefined` when no route matched). */
function configUrl(config: FastifyRequest['routeOptions']['config']): string | undefined {
  return config.url
}

/**
 * A refused token's `x-profile-status` goes into the reply, which Fastify writes in one `writeHead`: set on the
 * raw response first, it would send the response down Node's slower path (every request of an attack). A
 * class, not an object literal with a getter: one of those per request took garbage collection from
 * 2 % to 15 % of the CPU under attack traffic.
 */
class ReplyHeaders implements AnswerHeaders {
  constructor(private readonly reply: FastifyReply) {}

  get headersSent(): boolean {
    return this.reply.raw.headersSent
  }

  setHeader(name: string, value: string): void {
    this.reply.header(name, value)
  }
}

function refusalHeaders(reply: FastifyReply): AnswerHeaders {
  return new ReplyHeaders(reply)
}

/**
 * The admin API as Fastify routes (they show in `printRoutes()`), in a scope of their own whose content-type
 * parser leaves the body unread: the core handler reads and bounds it itself.
 */
async function registerAdminRoutes(
  fastify: FastifyInstance,
  prefix: string,
  admin: AdminHandler,
): Promise<void> {
  await fastify.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null))
    const serve = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      reply.hijack()
      await admin(request.raw, reply.raw)
    }
    for (const url of [prefix, `${prefix}/*`]) {
      scope.route({
        method: [...ADMIN_METHODS],
        url,
        exposeHeadRoute: false,
        config: { tripwire: false },
        handler: serve,
      })
    }
  })
}

/**
 * Tripwire for Fastify 5: `await app.register(tripwire, { service, keys })`. Honours the signed
 * `x-trigger-profile` header on every route (opt out per route with `config: { tripwire: false }`), serves the
 * admin API under its prefix, exposes the controller as `fastify.tripwire`.
 */
export const tripwire = fp(plugin, { fastify: '5.x', name: '@tripwire/fastify' })
export default tripwire

export type { TripwireController, TripwireOptions } from '@tripwire/core'
