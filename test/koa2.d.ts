// Koa 2 is installed under the npm alias `koa2`; the tests use the API it shares with Koa 3.
declare module 'koa2' {
  import Koa from 'koa'
  export default Koa
}
