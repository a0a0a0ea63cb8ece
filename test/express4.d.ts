// Express 4 is installed under the npm alias `express4`; its API is the one the tests use of Express 5.
declare module 'express4' {
  import express from 'express'
  export default express
}
